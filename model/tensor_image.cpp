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

torch::Tensor image_to_tensor(const cv::Mat& image) {
  const double scale = full_scale(image.depth());
  cv::Mat contiguous = image.isContinuous() ? image : image.clone();
  const auto dtype = image.depth() == CV_8U ? torch::kUInt8 : torch::kInt32;
  if (image.depth() == CV_16U) contiguous.convertTo(contiguous, CV_32S);
  auto hwc = torch::from_blob(contiguous.data, {image.rows, image.cols, image.channels()},
                              torch::TensorOptions().dtype(dtype));
  return hwc.permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat32).div(scale).contiguous();
}

cv::Mat tensor_to_image(const torch::Tensor& tensor, int depth) {
  const double scale = full_scale(depth);
  auto chw = tensor.detach().to(torch::kCPU).squeeze(0);
  if (chw.dim() != 3) throw std::invalid_argument("expected a [1, C, H, W] or [C, H, W] tensor");
  auto hwc = chw.clamp(0.0, 1.0).mul(scale).round().permute({1, 2, 0}).contiguous();
  const int channels = static_cast<int>(hwc.size(2));
  const int rows = static_cast<int>(hwc.size(0)), cols = static_cast<int>(hwc.size(1));
  if (depth == CV_8U) {
    auto bytes = hwc.to(torch::kUInt8).contiguous();
    return cv::Mat(rows, cols, CV_8UC(channels), bytes.data_ptr()).clone();
  }
  auto words = hwc.to(torch::kInt32).contiguous();
  cv::Mat wide(rows, cols, CV_32SC(channels), words.data_ptr());
  cv::Mat out;
  wide.convertTo(out, CV_16U);
  return out;
}

}  // namespace ern
