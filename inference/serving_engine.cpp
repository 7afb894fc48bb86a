#include "inference/serving_engine.h"

namespace ern::inference {

std::unique_ptr<FusedNafnet> serving_engine(LoadedModel& model) {
  const auto precision = serving_precision_of(model.metadata);
  if (precision != Precision::kInt8) return std::make_unique<FusedNafnet>(model.network, precision);
  return std::make_unique<FusedNafnet>(model.network, precision,
                                       int8_calibration_of(model.metadata, model.architecture));
}

std::vector<SigmaEvaluation> evaluate_model_dir(const std::filesystem::path& model_dir,
                                                const std::vector<std::filesystem::path>& images,
                                                const EvaluationOptions& options) {
  auto model = load_model_dir(model_dir);
  const auto engine = serving_engine(model);
  const auto forward = [&engine](const torch::Tensor& batch) { return engine->forward(batch); };
  return evaluate_denoiser(forward, model.architecture.image_channels, images, options);
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

Int8Calibration calibrate_int8(LoadedModel& model,
                               const std::vector<std::filesystem::path>& images) {
  FusedNafnet engine(model.network, Precision::kFp32);
  Int8Calibration calibration;
  EvaluationOptions options;
  options.classical_reference = false;
  // Served the way Denoise serves it (tiles included), so the ranges are the served ones.
  const auto forward = [&](const torch::Tensor& batch) {
    return engine.observe(batch, calibration);
  };
  evaluate_denoiser(forward, model.architecture.image_channels, images, options);
  return calibration;
}

}  // namespace ern::inference
