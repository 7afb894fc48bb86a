// ern-coordinator: search jobs, workers' leases, the model registry.
//
// usage: ern-coordinator [--config configs/coordinator.yaml] [--listen HOST:PORT] [--data DIR]
//                        [--devicefarm HOST:PORT] [--heartbeat-ms N] [--lease-ms N]

#include <cstdio>
#include <filesystem>

#include "client/arguments.h"
#include "common/grpc_server.h"
#include "common/logging.h"
#include "server/coordinator.h"

int main(int argc, char** argv) {
  try {
    ern::cli::Arguments args(
        std::vector<std::string>(argv + 1, argv + argc),
        {"config", "listen", "data", "devicefarm", "heartbeat-ms", "lease-ms", "log-level"});
    ern::init_logging(args.value_or("log-level", ""));
    // Without --config, the repository's default config when run from its root, else defaults.
    const std::string config_path = args.value_or("config", "configs/coordinator.yaml");
    auto config = args.has("config") || std::filesystem::exists(config_path)
                      ? ern::server::load_coordinator_config(config_path)
                      : ern::server::CoordinatorConfig{};
    config.listen = args.value_or("listen", config.listen);
    if (args.has("data")) config.data_dir = args.required("data");
    config.devicefarm = args.value_or("devicefarm", config.devicefarm);
    if (args.has("heartbeat-ms")) {
      config.timing.heartbeat_interval_ms = args.integer_or("heartbeat-ms", 0, 10, 600000);
    }
    if (args.has("lease-ms")) {
      config.timing.lease_duration_ms =
          args.integer_or("lease-ms", 0, 2 * config.timing.heartbeat_interval_ms, 3600000);
    }

    ern::block_termination_signals();
    ern::server::Coordinator coordinator(config);
    coordinator.start();
    ern::serve_until_signalled(coordinator.running());
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ern-coordinator: %s\n", error.what());
    return 1;
  }
}
