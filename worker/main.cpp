// ern-worker: leases search tasks from the coordinator and runs them.

#include <unistd.h>

#include <cstdio>
#include <thread>

#include "client/arguments.h"
#include "common/auth/token_file.h"
#include "common/grpc_server.h"
#include "common/heap_tuning.h"
#include "common/logging.h"
#include "common/metrics_server.h"
#include "common/program_info.h"
#include "worker/worker.h"

namespace {

std::atomic<bool> stop_requested{false};

}  // namespace

namespace {
constexpr char kUsage[] =
    R"(usage: ern-worker --coordinator HOST:PORT --token-file FILE --devicefarm HOST:PORT
                  [--ca FILE [--cert FILE --key FILE]] [--device cpu] [--name NAME]
                  [--data DIR] [--data-roots DIR[,DIR...]] [--threads N] [--poll-ms N]
                  [--progress-ms N]
                  [--retry-seconds N] [--farm-retry-seconds N] [--gang-timeout-seconds N]
                  [--metrics-listen HOST:PORT (default 0.0.0.0:9093; "" for none)])";
}  // namespace

int main(int argc, char** argv) {
  if (ern::answered_help_or_version(argc, argv, "ern-worker", kUsage)) return 0;
  ern::keep_freed_memory_in_heap();
  try {
    ern::cli::Arguments args(
        std::vector<std::string>(argv + 1, argv + argc),
        {"coordinator", "token-file", "devicefarm", "device", "name", "data", "data-roots",
         "poll-ms", "progress-ms", "retry-seconds", "farm-retry-seconds", "gang-timeout-seconds",
         "threads", "log-level", "metrics-listen", "ca", "cert", "key"});
    ern::init_logging(args.value_or("log-level", ""));
    ern::worker::WorkerOptions options;
    options.coordinator = args.value_or("coordinator", options.coordinator);
    // A token of role worker (ernctl tokens create --role worker).
    options.token = ern::auth::read_token_file(args.required("token-file"), "token-file");
    options.devicefarm = args.value_or("devicefarm", options.devicefarm);
    // TLS to the coordinator and the farm: the CA their certificates chain to, and this worker's
    // own certificate where they ask for one (mutual TLS).
    options.tls = {args.value_or("ca", ""), args.value_or("cert", ""), args.value_or("key", "")};
    options.device = args.value_or("device", options.device);
    char host[256] = "worker";
    gethostname(host, sizeof(host) - 1);
    options.name = args.value_or("name", std::string(host) + "-" + std::to_string(getpid()));
    options.data_dir = args.value_or("data", options.data_dir.string());
    // A spec's data and init_model must lie in these (default: the working directory).
    options.data_roots = ern::worker::parse_data_roots(args.value_or("data-roots", ""));
    options.poll_every = std::chrono::milliseconds(args.integer_or("poll-ms", 1000, 10, 60000));
    options.progress_every =
        std::chrono::milliseconds(args.integer_or("progress-ms", 2000, 10, 600000));
    options.threads = static_cast<int>(args.integer_or("threads", 0, 0, 1024));
    options.retry_budget = std::chrono::seconds(args.integer_or("retry-seconds", 600, 0, 86400));
    options.farm_retry_budget =
        std::chrono::seconds(args.integer_or("farm-retry-seconds", 600, 0, 86400));
    options.gang_timeout =
        std::chrono::seconds(args.integer_or("gang-timeout-seconds", 120, 5, 3600));

    // SIGINT/SIGTERM: leave the current task at its next step (its checkpoint stays with the
    // coordinator) and exit.
    ern::block_termination_signals();
    std::thread([] {
      ern::wait_for_termination_signal();
      stop_requested = true;
    }).detach();

    ern::worker::Worker worker(options);
    const auto metrics_server = ern::metrics::start_metrics_server(
        "ern-worker", args.value_or("metrics-listen", "0.0.0.0:9093"), [&worker] {
          return worker.registered() ? std::string() : std::string("not registered yet");
        });
    worker.run(stop_requested);
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ern-worker: %s\n", error.what());
    return 1;
  }
}
