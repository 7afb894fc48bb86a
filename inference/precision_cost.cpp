#include "inference/precision_cost.h"

#include <algorithm>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <thread>

#include "inference/serving_engine.h"

namespace ern::inference {
namespace {

// Median forward time of each pass at 256x256, the runs interleaved so that all see the same
// machine.
std::vector<double> median_ms(const std::vector<std::function<void(const torch::Tensor&)>>& passes,
                              int channels) {
  constexpr int kWarmUp = 2, kRuns = 7;
  const auto input = torch::rand({1, channels, 256, 256});
  std::vector<std::vector<double>> times(passes.size());
  for (int run = 0; run < kWarmUp + kRuns; ++run) {
    for (size_t pass = 0; pass < passes.size(); ++pass) {
      const auto start = std::chrono::steady_clock::now();
      passes[pass](input);
      const std::chrono::duration<double, std::milli> elapsed =
          std::chrono::steady_clock::now() - start;
      if (run >= kWarmUp) times[pass].push_back(elapsed.count());
    }
  }
  std::vector<double> medians;
  for (auto& runs : times) {
    std::sort(runs.begin(), runs.end());
    medians.push_back(runs[kRuns / 2]);
  }
  return medians;
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
  // Every core, as Denoise runs a model (LibTorch's own default counts physical cores, which on
  // some virtual machines is fewer).
  at::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
  const int channels = model.architecture.image_channels;
  FusedNafnet fp32(model.network, Precision::kFp32);
  FusedNafnet reduced(model.network, precision, calibration);
  PrecisionCost cost;
  const auto fp32_scores = evaluate_engine(fp32, channels, images, sigma, seed);
  cost.fp32_psnr = fp32_scores.network.psnr;
  cost.images = fp32_scores.images;
  cost.reduced_psnr = evaluate_engine(reduced, channels, images, sigma, seed).network.psnr;
  c10::InferenceMode inference;
  const auto medians = median_ms({[&](const torch::Tensor& x) { model.network->forward(x); },
                                  [&](const torch::Tensor& x) { fp32.forward(x); },
                                  [&](const torch::Tensor& x) { reduced.forward(x); }},
                                 channels);
  cost.libtorch_ms = medians[0];
  cost.fp32_ms = medians[1];
  cost.reduced_ms = medians[2];
  return cost;
}

}  // namespace ern::inference
