// ernctl search run-local: the whole search pipeline in this process, against a device farm.

#include <cstdio>

#include <spdlog/spdlog.h>

#include "client/arguments.h"
#include "client/commands.h"
#include "client/progress_bar.h"
#include "client/report_table.h"
#include "client/server_connection.h"
#include "devicefarm/latency_client.h"
#include "devicefarm/retrying_latency_oracle.h"
#include "inference/serving_engine.h"
#include "model/search_pipeline.h"

namespace ern::cli {

int search_run_local(const Args& raw) {
  Arguments args(raw, with_connection_flags({"devicefarm", "o", "rank", "world-size", "rendezvous",
                                             "farm-retry-seconds"}));
  args.expect_positionals(1,
                          "ernctl search run-local SPEC.yaml --devicefarm HOST:PORT -o DIR "
                          "[--farm-retry-seconds 600] "
                          "[--world-size N --rank R --rendezvous HOST:PORT]");
  SearchSpec spec;
  try {
    spec = load_search_spec(args.positional(0, "SPEC.yaml"));
  } catch (const std::invalid_argument& error) {
    throw UsageError(error.what());
  }
  const std::string output = args.required("o");
  const std::string farm_address = args.value_or("devicefarm", "localhost:50052");
  farm::LatencyClient client(farm_address, credentials_from(args), token_from(args));
  // A search runs for hours: a farm restarted meanwhile is waited for (as workers do), up to the
  // budget, instead of ending the run.
  farm::RetryingLatencyOracle farm(
      client, farm_address,
      std::chrono::seconds(args.integer_or("farm-retry-seconds", 600, 0, 86400)), [](bool) {});
  // One member of a gang started by hand (each member runs this with its own rank and output).
  const int world_size = static_cast<int>(args.integer_or("world-size", 1, 1, 64));
  GangSeat seat;
  try {
    seat = gang_seat(static_cast<int>(args.integer_or("rank", 0, 0, world_size - 1)), world_size,
                     world_size > 1 ? args.required("rendezvous") : "");
  } catch (const std::invalid_argument& error) {
    throw UsageError(std::string("--") + error.what());
  }
  TrainingGang gang = seat.world_size > 1 ? TrainingGang(seat, torch::kCPU) : TrainingGang();

  std::unique_ptr<ProgressBar> bar;
  std::string stage;
  int64_t last_step = 0;
  const auto report = run_search_pipeline(
      spec, farm, output,
      [&](const SearchProgress& p) {
        // A new stage, or the same stage starting over (the baseline's fine-tune after the
        // child's).
        if (p.stage != stage || p.step < last_step) {
          if (bar) bar->finish();
          stage = p.stage;
          std::fprintf(stderr, "== %s\n", stage.c_str());
          bar = std::make_unique<ProgressBar>(p.total_steps);
        }
        last_step = p.step;
        char detail[160];
        std::snprintf(detail, sizeof(detail), "loss %.3f E[lat] %.3f ms entropy %.3f", p.loss,
                      p.expected_latency_ms, p.normalized_entropy);
        bar->update(p.step, detail);
      },
      &gang, inference::evaluate_model_dir);
  if (bar) bar->finish();
  if (!gang.leader()) {
    std::printf("rank %d of %d done (rank 0 writes the report)\n", gang.rank(), gang.world_size());
    return 0;
  }
  print_search_report(report);
  std::printf("saved %s (report.json)\n", output.c_str());
  return 0;
}

}  // namespace ern::cli
