#include "inference/serving_engine.h"

namespace ern::inference {

std::unique_ptr<FusedNafnet> serving_engine(LoadedModel& model) {
  return std::make_unique<FusedNafnet>(model.network, serving_precision_of(model.metadata));
}

SigmaEvaluation evaluate_engine(FusedNafnet& engine, int image_channels,
                                const std::vector<std::filesystem::path>& images, double sigma,
                                uint64_t seed) {
  EvaluationOptions options;
  options.sigmas = {sigma};
  options.seed = seed;
  options.classical_reference = false;
  const auto forward = [&engine](const torch::Tensor& batch) { return engine.forward(batch); };
  return evaluate_denoiser(forward, image_channels, images, options).front();
}

}  // namespace ern::inference
