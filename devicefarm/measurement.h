#pragma once
// How the device farm times things: warm-up runs, then repeats until the running median is stable
// (changes by less than 2% over the last quarter of the runs) or the time budget is spent.

#include <functional>
#include <string>

namespace ern::farm {

struct LatencyStats {
  double median_ms = 0.0;
  double p10_ms = 0.0;
  double p90_ms = 0.0;
  int runs = 0;
};

struct MeasurementPolicy {
  int warmup_runs = 3;
  int min_runs = 7;
  int max_runs = 200;
  double budget_seconds = 2.0;
};

LatencyStats measure_latency(const std::function<void()>& run, const MeasurementPolicy& policy);

// One spec of the lookup table: one block alternative at a channel count and input size.
struct BlockSpec {
  std::string alternative;
  int channels = 0;
  int height = 0;
  int width = 0;

  // Throws std::invalid_argument naming the bad field.
  void validate() const;
  std::string key() const;  // "naf_lite/c32/64x64"
};

}  // namespace ern::farm
