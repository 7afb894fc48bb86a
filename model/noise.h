#pragma once
// Synthetic additive white Gaussian noise, as the colour-denoising benchmarks define it: sigma on
// the 0..255 scale, and the noisy result clipped and rounded as 8-bit data would be.

#include <torch/torch.h>

#include <cstdint>

#include <opencv2/core.hpp>

namespace ern {

// clean: float tensor in [0, 1] (any shape). Deterministic for a given generator state.
torch::Tensor add_gaussian_noise(const torch::Tensor& clean, double sigma,
                                 torch::Generator& generator);

// For 8-bit images; the same seed gives the same noise.
cv::Mat add_gaussian_noise(const cv::Mat& clean8, double sigma, uint64_t seed);

}  // namespace ern
