// ern-serve: a Denoise replica (ern.v1.DenoiseService) that mirrors the coordinator's model
// registry and keeps serving from its cache while the coordinator is away.
//
// The token (role serve) lets it watch the registry, download models and check the tokens of the
// applications that call it, the same tokens as on the coordinator. /readyz answers 200 once the
// default model is loaded.

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
#include "serving/denoise_service.h"
#include "serving/registry_mirror.h"
#include "serving/serve_config.h"

namespace {

using namespace ern;

serving::ServeConfig configure(const cli::Arguments& args) {
  auto config = args.has("config") ? serving::load_serve_config(args.required("config"))
                                   : serving::ServeConfig();
  config.listen = args.value_or("listen", config.listen);
  config.metrics_listen = args.value_or("metrics-listen", config.metrics_listen);
  if (args.has("data")) config.data_dir = args.required("data");
  config.registry = args.value_or("registry", config.registry);
  config.token_file = args.value_or("token-file", config.token_file);
  config.registry_tls.ca_file = args.value_or("ca", config.registry_tls.ca_file);
  config.registry_tls.cert_file = args.value_or("cert", config.registry_tls.cert_file);
  config.registry_tls.key_file = args.value_or("key", config.registry_tls.key_file);
  config.tls.cert_file = args.value_or("tls-cert", config.tls.cert_file);
  config.tls.key_file = args.value_or("tls-key", config.tls.key_file);
  config.tls.client_ca_file = args.value_or("tls-client-ca", config.tls.client_ca_file);
  config.token_cache_seconds =
      static_cast<int>(args.integer_or("token-cache-seconds", config.token_cache_seconds, 0, 3600));
  config.token_stale_seconds = static_cast<int>(
      args.integer_or("token-stale-seconds", config.token_stale_seconds, 0, 7 * 86400));
  if (config.registry.empty()) throw cli::UsageError("--registry HOST:PORT is required");
  if (config.token_file.empty()) {
    throw cli::UsageError("--token-file FILE is required (a token of role serve)");
  }
  return config;
}

}  // namespace

namespace {
constexpr char kUsage[] =
    R"(usage: ern-serve --registry HOST:PORT --token-file FILE [--config configs/serve.yaml]
                 [--listen HOST:PORT] [--metrics-listen HOST:PORT] [--data DIR]
                 [--ca FILE [--cert FILE --key FILE]]            (TLS to the registry)
                 [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]] [--insecure-plaintext]
                 [--token-cache-seconds 30] [--token-stale-seconds 3600])";
}  // namespace

int main(int argc, char** argv) {
  if (ern::answered_help_or_version(argc, argv, "ern-serve", kUsage)) return 0;
  try {
    const cli::Arguments args(std::vector<std::string>(argv + 1, argv + argc),
                              {"config", "listen", "metrics-listen", "data", "log-level",
                               "registry", "token-file", "ca", "cert", "key", "tls-cert", "tls-key",
                               "tls-client-ca", "token-cache-seconds", "token-stale-seconds"},
                              {"insecure-plaintext"});
    init_logging(args.value_or("log-level", ""));
    const auto config = configure(args);
    keep_freed_memory_in_heap();
    block_termination_signals();

    const auto own_token = auth::read_token_file(config.token_file, "token-file");
    const auto credentials =
        tls::server_credentials(config.tls, config.listen, args.has("insecure-plaintext"));
    grpc::ChannelArguments channel_arguments;
    channel_arguments.SetMaxReceiveMessageSize(kMaxMessageBytes);
    // A coordinator that went away is noticed within seconds, not at the next TCP timeout.
    channel_arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
    channel_arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
    channel_arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    const auto registry =
        auth::channel_with_token(config.registry, tls::channel_credentials(config.registry_tls),
                                 channel_arguments, own_token);
    auth::RemoteTokenVerifier callers(registry, config.registry,
                                      std::chrono::seconds(config.token_cache_seconds),
                                      std::chrono::seconds(config.token_stale_seconds));

    std::unique_ptr<serving::DenoiseServiceImpl> denoise;
    serving::RegistryMirror mirror(
        registry, config.registry, config.data_dir,
        [&denoise](const v1::Model& model) { denoise->preload(model.id()); });
    denoise = std::make_unique<serving::DenoiseServiceImpl>(mirror, config.serving,
                                                            config.app_tokens, callers);
    ServerLimits limits;
    limits.max_message_bytes = config.serving.max_message_bytes;
    limits.waiting_calls = config.serving.max_concurrent_requests;
    auto running =
        start_grpc_server(config.listen, {denoise.get()}, "ern-serve", credentials, limits);
    auto metrics_server = metrics::start_metrics_server("ern-serve", config.metrics_listen,
                                                        [&mirror] { return mirror.readiness(); });
    mirror.start();
    spdlog::info("mirroring the registry at {} into {}", config.registry, config.data_dir.string());
    serve_until_signalled(running);
    metrics_server.reset();
    mirror.stop();  // before the engine that its callback loads models into
    return 0;
  } catch (const cli::UsageError& error) {
    std::fprintf(stderr, "ern-serve: %s\n", error.what());
    return 2;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ern-serve: %s\n", error.what());
    return 1;
  }
}
