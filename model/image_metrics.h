#pragma once
// Full-reference image quality, computed as scikit-image does: PSNR with the data range of the
// image type (255 for 8-bit), SSIM with an 11x11 Gaussian window (sigma 1.5), sample covariance,
// K1 0.01, K2 0.03, borders of half a window excluded, per channel and averaged.

#include <opencv2/core.hpp>

namespace ern {

// Both images: same size, channel count and depth (CV_8U or CV_16U). Throws
// std::invalid_argument naming the mismatch. Identical images give +infinity.
double psnr(const cv::Mat& reference, const cv::Mat& test);
double ssim(const cv::Mat& reference, const cv::Mat& test);

}  // namespace ern
