#pragma once
// Denoising quality on a folder of clean images: each image gets Gaussian noise at every sigma
// with a fixed seed, then the network's output (and, as a classical reference, OpenCV's
// non-local means on the same noisy image) is scored against the clean image.

#include <cstdint>
#include <filesystem>
#include <vector>

#include <opencv2/core.hpp>

#include "model/nafnet.h"
#include "model/nlm_reference.h"
#include "model/tiled_inference.h"

namespace ern {

struct QualityScores {
  double psnr = 0.0;
  double ssim = 0.0;
};

struct SigmaEvaluation {
  double sigma = 0.0;
  int images = 0;
  QualityScores noisy;    // the noisy input itself
  QualityScores network;  // the model under evaluation
  QualityScores nlm;      // fastNlMeansDenoisingColored; zeros when not run
};

struct EvaluationOptions {
  std::vector<double> sigmas{15, 25, 50};
  uint64_t seed = 0;
  bool classical_reference = true;
  NlmStrength nlm;  // the classical reference's tuned strength
  TileOptions tiles;
};

// Mean scores per sigma over `images` (RGB 8-bit files).
std::vector<SigmaEvaluation> evaluate_denoiser(Nafnet& network,
                                               const std::vector<std::filesystem::path>& images,
                                               const EvaluationOptions& options);
// The same through any forward pass of a network with `network_channels` image channels (the
// serving engine's, so a score says how well the served model denoises).
std::vector<SigmaEvaluation> evaluate_denoiser(const BatchForward& forward, int network_channels,
                                               const std::vector<std::filesystem::path>& images,
                                               const EvaluationOptions& options);

// The noise seed used for image `index` at `sigma`, so every tool adds the same noise.
uint64_t evaluation_noise_seed(uint64_t seed, size_t index, double sigma);

}  // namespace ern
