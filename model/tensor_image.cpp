#include "model/tensor_image.h"

#include <stdexcept>

namespace ern {
namespace {

double full_scale(int depth) {
  if (depth == CV_8U) return 255.0;
  if (depth == CV_16U) return 65535.0;
  throw std::invalid_argument("image depth must be 8 or 16 bit unsigned");
}

}  // namespace

// Both directions make one pass with OpenCV's vectorized convertTo over channels-last memory,
// which is the layout of an interleaved image and of the inference fast path alike.
torch::Tensor image_to_tensor(const cv::Mat& image) {
  const double scale = full_scale(image.depth());
  auto nhwc = torch::empty({1, image.rows, image.cols, image.channels()}, torch::kFloat32);
  cv::Mat destination(image.rows, image.cols, CV_32FC(image.channels()), nhwc.data_ptr());
  image.convertTo(destination, CV_32F, 1.0 / scale);
  return nhwc.permute({0, 3, 1, 2});
}

cv::Mat tensor_to_image(const torch::Tensor& tensor, int depth) {
  const double scale = full_scale(depth);
  auto chw = tensor.detach().to(torch::kCPU, torch::kFloat32).squeeze(0);
  if (chw.dim() != 3) throw std::invalid_argument("expected a [1, C, H, W] or [C, H, W] tensor");
  const auto hwc = chw.permute({1, 2, 0}).contiguous();  // free for a channels-last tensor
  const int channels = static_cast<int>(hwc.size(2));
  const cv::Mat source(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)),
                       CV_32FC(channels), hwc.data_ptr());
  cv::Mat image;
  source.convertTo(image, CV_MAKETYPE(depth, channels), scale);  // rounds and saturates
  return image;
}

}  // namespace ern
