#pragma once
// Timing for the benchmarks: one warm-up call, then `repeats` timed calls.

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace ern::bench {

struct Timing {
  double median_ms, p10_ms, p90_ms;
};

inline Timing time_repeats(int repeats, const std::function<void()>& work) {
  work();  // warm-up
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    work();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::sort(times.begin(), times.end());
  auto pick = [&](double q) { return times[std::min(times.size() - 1, size_t(q * times.size()))]; };
  return {pick(0.5), pick(0.1), pick(0.9)};
}

}  // namespace ern::bench
