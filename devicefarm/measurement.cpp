#include "devicefarm/measurement.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "model/block_alternatives.h"

namespace ern::farm {
namespace {

double quantile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double position = q * static_cast<double>(values.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(position));
  const size_t above = std::min(values.size() - 1, below + 1);
  return values[below] + (values[above] - values[below]) * (position - static_cast<double>(below));
}

}  // namespace

LatencyStats measure_latency(const std::function<void()>& run, const MeasurementPolicy& policy) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < policy.warmup_runs; ++i) run();
  const auto started = clock::now();
  std::vector<double> times;
  double settled_median = -1.0;
  while (static_cast<int>(times.size()) < policy.max_runs) {
    const auto begin = clock::now();
    run();
    times.push_back(std::chrono::duration<double, std::milli>(clock::now() - begin).count());
    const int runs = static_cast<int>(times.size());
    if (runs < policy.min_runs) continue;
    // Compare the median now with the median three quarters of the way through.
    const double median = quantile(times, 0.5);
    const std::vector<double> earlier(times.begin(), times.begin() + (runs * 3) / 4);
    settled_median = quantile(earlier, 0.5);
    const bool stable = std::abs(median - settled_median) <= 0.02 * median;
    const bool out_of_budget =
        std::chrono::duration<double>(clock::now() - started).count() > policy.budget_seconds;
    if (stable || out_of_budget) break;
  }
  return {quantile(times, 0.5), quantile(times, 0.1), quantile(times, 0.9),
          static_cast<int>(times.size())};
}

void BlockSpec::validate() const {
  parse_alternative(alternative);
  if (channels <= 0 || channels > 4096) {
    throw std::invalid_argument("channels: must be in 1..4096, got " + std::to_string(channels));
  }
  if (height <= 0 || height > 8192 || width <= 0 || width > 8192) {
    throw std::invalid_argument("height/width: must be in 1..8192, got " + std::to_string(height) +
                                "x" + std::to_string(width));
  }
}

std::string BlockSpec::key() const {
  return alternative + "/c" + std::to_string(channels) + "/" + std::to_string(height) + "x" +
         std::to_string(width);
}

}  // namespace ern::farm
