#pragma once
// Conversion between images (cv::Mat, 8 or 16 bit, 1 or 3 channels, RGB order) and the network's
// float tensors [1, C, H, W] in [0, 1]. Tensors made from images have channels-last strides.

#include <torch/torch.h>

#include <opencv2/core.hpp>

namespace ern {

torch::Tensor image_to_tensor(const cv::Mat& image);

// Clamps to [0, 1], scales to the depth's full range and rounds. `depth` is CV_8U or CV_16U.
cv::Mat tensor_to_image(const torch::Tensor& tensor, int depth = CV_8U);

}  // namespace ern
