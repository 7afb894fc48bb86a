#pragma once
// The engine a model directory is served with: the fused forward pass in the precision its
// model.json asks for (metadata.serving_precision, fp32 when absent; int8 with
// metadata.int8_calibration). Denoise, the quality gate and `ernctl model export --precision` all
// build it here, so a score is what Denoise serves.

#include <memory>

#include <filesystem>
#include <vector>

#include "inference/fused_nafnet.h"
#include "model/evaluation.h"
#include "model/model_dir.h"

namespace ern::inference {

// Throws std::invalid_argument naming the field when model.json's serving metadata is invalid.
std::unique_ptr<FusedNafnet> serving_engine(LoadedModel& model);

// Post-training calibration of the int8 mode: the ranges its inputs take in the fp32 engine on
// `images` with evaluation.h's noise at sigma 15, 25 and 50 (what Denoise is asked to remove).
Int8Calibration calibrate_int8(LoadedModel& model,
                               const std::vector<std::filesystem::path>& images);

// evaluation.h's scores of the model directory `model_dir` as it is served (its serving engine):
// what the search pipeline reports of the networks it made (a ModelEvaluator).
std::vector<SigmaEvaluation> evaluate_model_dir(const std::filesystem::path& model_dir,
                                                const std::vector<std::filesystem::path>& images,
                                                const EvaluationOptions& options);

// Mean PSNR/SSIM of `engine` (a network of `image_channels`) over `images` with evaluation.h's
// noise at one sigma and seed: how the quality gate and a precision's cost score a model.
SigmaEvaluation evaluate_engine(FusedNafnet& engine, int image_channels,
                                const std::vector<std::filesystem::path>& images, double sigma,
                                uint64_t seed);

}  // namespace ern::inference
