#include "model/image_metrics.h"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

namespace ern {
namespace {

constexpr int kWindow = 11;
constexpr double kSigma = 1.5;

double data_range(const cv::Mat& image) {
  switch (image.depth()) {
    case CV_8U:
      return 255.0;
    case CV_16U:
      return 65535.0;
    default:
      throw std::invalid_argument("image depth must be 8 or 16 bit unsigned");
  }
}

void check_pair(const cv::Mat& reference, const cv::Mat& test) {
  if (reference.empty() || test.empty()) throw std::invalid_argument("empty image");
  if (reference.size() != test.size()) {
    throw std::invalid_argument("image sizes differ: " + std::to_string(reference.cols) + "x" +
                                std::to_string(reference.rows) + " vs " +
                                std::to_string(test.cols) + "x" + std::to_string(test.rows));
  }
  if (reference.type() != test.type()) {
    throw std::invalid_argument("image types differ (channels " +
                                std::to_string(reference.channels()) + " vs " +
                                std::to_string(test.channels()) + ", or bit depth)");
  }
  data_range(reference);
}

cv::Mat gaussian_mean(const cv::Mat& image) {
  cv::Mat out;
  cv::GaussianBlur(image, out, cv::Size(kWindow, kWindow), kSigma, kSigma, cv::BORDER_REFLECT);
  return out;
}

double ssim_channel(const cv::Mat& x, const cv::Mat& y, double range) {
  const double c1 = std::pow(0.01 * range, 2), c2 = std::pow(0.03 * range, 2);
  const double n = kWindow * kWindow;
  const double covariance_norm = n / (n - 1.0);  // sample covariance, as scikit-image's default

  const cv::Mat ux = gaussian_mean(x), uy = gaussian_mean(y);
  const cv::Mat uxx = gaussian_mean(x.mul(x)), uyy = gaussian_mean(y.mul(y));
  const cv::Mat uxy = gaussian_mean(x.mul(y));
  const cv::Mat vx = covariance_norm * (uxx - ux.mul(ux));
  const cv::Mat vy = covariance_norm * (uyy - uy.mul(uy));
  const cv::Mat vxy = covariance_norm * (uxy - ux.mul(uy));

  const cv::Mat numerator = (2 * ux.mul(uy) + c1).mul(2 * vxy + c2);
  const cv::Mat denominator = (ux.mul(ux) + uy.mul(uy) + c1).mul(vx + vy + c2);
  cv::Mat map;
  cv::divide(numerator, denominator, map);

  const int pad = (kWindow - 1) / 2;
  if (map.rows <= 2 * pad || map.cols <= 2 * pad) {
    throw std::invalid_argument("image too small for SSIM: needs at least " +
                                std::to_string(kWindow) + "x" + std::to_string(kWindow));
  }
  return cv::mean(map(cv::Rect(pad, pad, map.cols - 2 * pad, map.rows - 2 * pad)))[0];
}

}  // namespace

double psnr(const cv::Mat& reference, const cv::Mat& test) {
  check_pair(reference, test);
  cv::Mat a, b;
  reference.convertTo(a, CV_64F);
  test.convertTo(b, CV_64F);
  cv::Mat diff = a - b;
  const double mse = diff.dot(diff) / static_cast<double>(diff.total() * diff.channels());
  if (mse == 0.0) return std::numeric_limits<double>::infinity();
  const double range = data_range(reference);
  return 10.0 * std::log10(range * range / mse);
}

double ssim(const cv::Mat& reference, const cv::Mat& test) {
  check_pair(reference, test);
  const double range = data_range(reference);
  std::vector<cv::Mat> ref_channels, test_channels;
  cv::split(reference, ref_channels);
  cv::split(test, test_channels);
  double total = 0.0;
  for (size_t c = 0; c < ref_channels.size(); ++c) {
    cv::Mat x, y;
    ref_channels[c].convertTo(x, CV_64F);
    test_channels[c].convertTo(y, CV_64F);
    total += ssim_channel(x, y, range);
  }
  return total / static_cast<double>(ref_channels.size());
}

}  // namespace ern
