#include "inference/precision_cost.h"

#include <stdexcept>

#include "inference/fused_nafnet.h"
#include "model/evaluation.h"

namespace ern::inference {
namespace {

double mean_psnr(FusedNafnet& engine, int channels,
                 const std::vector<std::filesystem::path>& images, double sigma, uint64_t seed,
                 int& count) {
  EvaluationOptions options;
  options.sigmas = {sigma};
  options.seed = seed;
  options.classical_reference = false;
  const auto forward = [&engine](const torch::Tensor& batch) { return engine.forward(batch); };
  const auto result = evaluate_denoiser(forward, channels, images, options).front();
  count = result.images;
  return result.network.psnr;
}

}  // namespace

PrecisionCost measure_precision_cost(LoadedModel& model, Precision precision,
                                     const std::vector<std::filesystem::path>& images, double sigma,
                                     uint64_t seed) {
  if (effective_precision(precision) != precision) {
    throw std::invalid_argument(std::string("precision: ") + name_of(precision) +
                                " does not run natively on this CPU (it needs AVX-512 BF16 or "
                                "AMX), so its cost cannot be measured here");
  }
  const int channels = model.architecture.image_channels;
  FusedNafnet fp32(model.network, Precision::kFp32);
  FusedNafnet reduced(model.network, precision);
  PrecisionCost cost;
  cost.fp32_psnr = mean_psnr(fp32, channels, images, sigma, seed, cost.images);
  cost.reduced_psnr = mean_psnr(reduced, channels, images, sigma, seed, cost.images);
  return cost;
}

}  // namespace ern::inference
