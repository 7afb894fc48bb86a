// ern-coordinator: search jobs, workers' leases, the model registry.

#include <cstdio>
#include <filesystem>
#include <memory>

#include "client/arguments.h"
#include "common/grpc_server.h"
#include "common/heap_tuning.h"
#include "common/logging.h"
#include "common/program_info.h"
#include "server/coordinator.h"
#include "server/embedded.h"
#include "worker/data_roots.h"

namespace {
constexpr char kUsage[] =
    R"(usage: ern-coordinator [--config configs/coordinator.yaml] [--listen HOST:PORT]
                       [--metrics-listen HOST:PORT] [--data DIR]
                       [--devicefarm HOST:PORT] [--heartbeat-ms N] [--lease-ms N]
                       [--embedded-workers N [--worker-data-roots DIR[,DIR...]]]
                       [--embedded-devicefarm]
                       [--devicefarm-config configs/devicefarm.yaml]
                       [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
                       [--insecure-plaintext]
                       [--devicefarm-ca FILE [--devicefarm-cert FILE --devicefarm-key FILE]])";
}  // namespace

int main(int argc, char** argv) {
  if (ern::answered_help_or_version(argc, argv, "ern-coordinator", kUsage)) return 0;
  ern::keep_freed_memory_in_heap();
  try {
    ern::cli::Arguments args(
        std::vector<std::string>(argv + 1, argv + argc),
        {"config", "listen", "metrics-listen", "data", "devicefarm", "heartbeat-ms", "lease-ms",
         "log-level", "embedded-workers", "devicefarm-config", "tls-cert", "tls-key",
         "tls-client-ca", "devicefarm-ca", "devicefarm-cert", "devicefarm-key",
         "worker-data-roots"},
        {"embedded-devicefarm", "insecure-plaintext"});
    ern::init_logging(args.value_or("log-level", ""));
    // Without --config, the repository's default config when run from its root, else defaults.
    const std::string config_path = args.value_or("config", "configs/coordinator.yaml");
    auto config = args.has("config") || std::filesystem::exists(config_path)
                      ? ern::server::load_coordinator_config(config_path)
                      : ern::server::CoordinatorConfig{};
    config.listen = args.value_or("listen", config.listen);
    config.tls.cert_file = args.value_or("tls-cert", config.tls.cert_file);
    config.tls.key_file = args.value_or("tls-key", config.tls.key_file);
    config.tls.client_ca_file = args.value_or("tls-client-ca", config.tls.client_ca_file);
    config.insecure_plaintext = args.has("insecure-plaintext");
    config.devicefarm_tls.ca_file = args.value_or("devicefarm-ca", config.devicefarm_tls.ca_file);
    config.devicefarm_tls.cert_file =
        args.value_or("devicefarm-cert", config.devicefarm_tls.cert_file);
    config.devicefarm_tls.key_file =
        args.value_or("devicefarm-key", config.devicefarm_tls.key_file);
    config.metrics_listen = args.value_or("metrics-listen", config.metrics_listen);
    if (args.has("data")) config.data_dir = args.required("data");
    config.devicefarm = args.value_or("devicefarm", config.devicefarm);
    if (args.has("heartbeat-ms")) {
      config.timing.heartbeat_interval_ms = args.integer_or("heartbeat-ms", 0, 10, 600000);
    }
    if (args.has("lease-ms")) {
      config.timing.lease_duration_ms =
          args.integer_or("lease-ms", 0, 2 * config.timing.heartbeat_interval_ms, 3600000);
    }

    const int embedded_workers = static_cast<int>(args.integer_or("embedded-workers", 0, 0, 64));

    ern::block_termination_signals();
    std::unique_ptr<ern::server::EmbeddedDeviceFarm> farm;
    if (args.has("embedded-devicefarm")) {
      farm = std::make_unique<ern::server::EmbeddedDeviceFarm>(
          args.value_or("devicefarm-config", "configs/devicefarm.yaml"),
          config.data_dir / "devicefarm");
      config.devicefarm_tls = {};  // it listens on loopback in plaintext
      config.devicefarm = farm->address();
    }
    if (embedded_workers > 0 && config.devicefarm.empty()) {
      throw ern::cli::UsageError(
          "--embedded-workers: the workers need a device farm (--embedded-devicefarm or "
          "--devicefarm HOST:PORT)");
    }
    ern::server::Coordinator coordinator(config);
    coordinator.start();
    auto workers = std::make_unique<ern::server::EmbeddedWorkers>(
        embedded_workers, *coordinator.running().server, coordinator.embedded_worker_token(),
        config.devicefarm, config.devicefarm_tls, config.data_dir,
        ern::worker::parse_data_roots(args.value_or("worker-data-roots", "")));
    ern::wait_for_termination_signal();
    coordinator.begin_shutdown();
    workers.reset();  // running tasks stop at their next step; their checkpoints stay stored
    ern::shut_down(coordinator.running());
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ern-coordinator: %s\n", error.what());
    return 1;
  }
}
