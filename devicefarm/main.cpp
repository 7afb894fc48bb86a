// ern-devicefarm: the latency service (ern.v1.LatencyService).
//
// With --coordinator, every call must carry a token of role worker (or admin), checked with the
// coordinator (AccessService.VerifyToken, with the farm's own worker token from --token-file).
// Without it, the farm accepts calls without tokens, which it allows only on a loopback address
// unless --insecure-no-auth says otherwise.

#include <cstdio>

#include <spdlog/spdlog.h>

#include "client/arguments.h"
#include "common/auth/remote_token_verifier.h"
#include "common/auth/token_channel.h"
#include "common/auth/token_file.h"
#include "common/grpc_server.h"
#include "common/heap_tuning.h"
#include "common/logging.h"
#include "common/metrics_server.h"
#include "common/program_info.h"
#include "common/tls/transport_security.h"
#include "devicefarm/device_farm.h"
#include "devicefarm/latency_service.h"

namespace {
constexpr char kUsage[] =
    R"(usage: ern-devicefarm [--config configs/devicefarm.yaml] [--listen HOST:PORT]
                      [--metrics-listen HOST:PORT] [--data DIR]
                      [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE
                      [--require-client-cert]]] [--insecure-plaintext]
                      [--coordinator HOST:PORT --token-file FILE [--ca FILE [--cert FILE
                      --key FILE]] [--token-cache-seconds 30]] [--insecure-no-auth])";
}  // namespace

int main(int argc, char** argv) {
  if (ern::answered_help_or_version(argc, argv, "ern-devicefarm", kUsage)) return 0;
  try {
    ern::cli::Arguments args(
        std::vector<std::string>(argv + 1, argv + argc),
        {"config", "listen", "metrics-listen", "data", "log-level", "tls-cert", "tls-key",
         "tls-client-ca", "coordinator", "token-file", "ca", "cert", "key", "token-cache-seconds"},
        {"insecure-plaintext", "require-client-cert", "insecure-no-auth"});
    ern::init_logging(args.value_or("log-level", ""));
    const std::string config_path = args.value_or("config", "configs/devicefarm.yaml");
    auto config = ern::farm::load_farm_config(config_path);
    const std::string listen = args.value_or("listen", config.listen);
    if (args.has("data")) config.data_dir = args.required("data");
    config.tls.cert_file = args.value_or("tls-cert", config.tls.cert_file);
    config.tls.key_file = args.value_or("tls-key", config.tls.key_file);
    config.tls.client_ca_file = args.value_or("tls-client-ca", config.tls.client_ca_file);
    if (args.has("require-client-cert")) config.tls.require_client_cert = true;

    // Time steady-state inference, without page faults of varying cost in each measured run.
    ern::keep_freed_memory_in_heap();

    ern::block_termination_signals();
    ern::farm::DeviceFarm farm(config);
    // Transport first, then who may call.
    const auto credentials =
        ern::tls::server_credentials(config.tls, listen, args.has("insecure-plaintext"));
    std::unique_ptr<ern::auth::RemoteTokenVerifier> verifier;
    if (args.has("coordinator")) {
      const auto coordinator = args.required("coordinator");
      verifier = std::make_unique<ern::auth::RemoteTokenVerifier>(
          ern::auth::channel_with_token(
              coordinator,
              ern::tls::channel_credentials(
                  {args.value_or("ca", ""), args.value_or("cert", ""), args.value_or("key", "")}),
              grpc::ChannelArguments(),
              ern::auth::read_token_file(args.required("token-file"), "token-file")),
          coordinator, std::chrono::seconds(args.integer_or("token-cache-seconds", 30, 0, 3600)));
      spdlog::info("callers' tokens are checked with the coordinator at {}", coordinator);
    } else if (!ern::tls::is_loopback_listen(listen) && !args.has("insecure-no-auth")) {
      throw std::runtime_error("refusing to serve " + listen +
                               " without token checks: give --coordinator HOST:PORT and "
                               "--token-file FILE, listen on loopback, or pass --insecure-no-auth");
    } else {
      spdlog::warn("no --coordinator: calls are not authenticated");
    }
    ern::farm::LatencyServiceImpl service(farm, verifier.get());
    auto running = ern::start_grpc_server(listen, {&service}, "ern-devicefarm", credentials);
    const auto metrics_server = ern::metrics::start_metrics_server(
        "ern-devicefarm", args.value_or("metrics-listen", config.metrics_listen),
        [] { return std::string(); });  // ready once serving
    for (const auto& device : farm.devices()) {
      spdlog::info("device {} ({}, {} threads) {}", device.id, device.backend, device.threads,
                   device.description);
    }
    ern::serve_until_signalled(running);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ern-devicefarm: %s\n", error.what());
    return 1;
  }
}
