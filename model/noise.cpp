#include "model/noise.h"

#include <stdexcept>

#include "model/tensor_image.h"

namespace ern {

torch::Tensor add_gaussian_noise(const torch::Tensor& clean, double sigma,
                                 torch::Generator& generator) {
  auto noise = torch::randn(clean.sizes(), generator, clean.options()) * (sigma / 255.0);
  return (clean + noise).clamp(0.0, 1.0).mul(255.0).round().div(255.0);
}

cv::Mat add_gaussian_noise(const cv::Mat& clean8, double sigma, uint64_t seed) {
  if (clean8.depth() != CV_8U) throw std::invalid_argument("noise: the image must be 8-bit");
  if (sigma < 0) throw std::invalid_argument("sigma: must be >= 0");
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return tensor_to_image(add_gaussian_noise(image_to_tensor(clean8), sigma, generator));
}

}  // namespace ern
