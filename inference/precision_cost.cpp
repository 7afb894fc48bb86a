#include "inference/precision_cost.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "inference/serving_engine.h"

namespace ern::inference {
namespace {

// Median forward time of each engine at 256x256, the runs interleaved so that both see the same
// machine.
std::pair<double, double> median_ms(FusedNafnet& first, FusedNafnet& second, int channels) {
  constexpr int kWarmUp = 2, kRuns = 7;
  const auto input = torch::rand({1, channels, 256, 256});
  std::vector<double> firsts, seconds;
  const auto time = [&input](FusedNafnet& engine) {
    const auto start = std::chrono::steady_clock::now();
    engine.forward(input);
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
  };
  for (int run = 0; run < kWarmUp + kRuns; ++run) {
    const double a = time(first), b = time(second);
    if (run < kWarmUp) continue;
    firsts.push_back(a);
    seconds.push_back(b);
  }
  std::sort(firsts.begin(), firsts.end());
  std::sort(seconds.begin(), seconds.end());
  return {firsts[kRuns / 2], seconds[kRuns / 2]};
}

}  // namespace

PrecisionCost measure_precision_cost(LoadedModel& model, Precision precision,
                                     const Int8Calibration& calibration,
                                     const std::vector<std::filesystem::path>& images, double sigma,
                                     uint64_t seed) {
  if (effective_precision(precision) != precision) {
    throw std::invalid_argument(std::string("precision: ") + name_of(precision) +
                                " does not run natively on this CPU (it needs AVX-512 BF16 or "
                                "AMX), so its cost cannot be measured here");
  }
  const int channels = model.architecture.image_channels;
  FusedNafnet fp32(model.network, Precision::kFp32);
  FusedNafnet reduced(model.network, precision, calibration);
  PrecisionCost cost;
  const auto fp32_scores = evaluate_engine(fp32, channels, images, sigma, seed);
  cost.fp32_psnr = fp32_scores.network.psnr;
  cost.images = fp32_scores.images;
  cost.reduced_psnr = evaluate_engine(reduced, channels, images, sigma, seed).network.psnr;
  std::tie(cost.fp32_ms, cost.reduced_ms) = median_ms(fp32, reduced, channels);
  return cost;
}

}  // namespace ern::inference
