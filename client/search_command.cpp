// ernctl search run-local: the whole search pipeline in this process, against a device farm.

#include <cstdio>

#include <spdlog/spdlog.h>

#include "client/arguments.h"
#include "client/commands.h"
#include "client/progress_bar.h"
#include "client/report_table.h"
#include "client/server_connection.h"
#include "devicefarm/latency_client.h"
#include "model/search_pipeline.h"

namespace ern::cli {

int search_run_local(const Args& raw) {
  Arguments args(raw, with_connection_flags({"devicefarm", "o"}));
  args.expect_positionals(1, "ernctl search run-local SPEC.yaml --devicefarm HOST:PORT -o DIR");
  SearchSpec spec;
  try {
    spec = load_search_spec(args.positional(0, "SPEC.yaml"));
  } catch (const std::invalid_argument& error) {
    throw UsageError(error.what());
  }
  const std::string output = args.required("o");
  farm::LatencyClient farm(args.value_or("devicefarm", "localhost:50052"), credentials_from(args),
                           token_from(args));

  std::unique_ptr<ProgressBar> bar;
  std::string stage;
  int64_t last_step = 0;
  const auto report = run_search_pipeline(spec, farm, output, [&](const SearchProgress& p) {
    // A new stage, or the same stage starting over (the baseline's fine-tune after the child's).
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
  });
  if (bar) bar->finish();

  print_search_report(report);
  std::printf("saved %s (report.json)\n", output.c_str());
  return 0;
}

}  // namespace ern::cli
