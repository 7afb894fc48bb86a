#pragma once
// The reference PNG reader of the PNG tests: libpng through OpenCV, independent of ERN's own
// decoder, its result turned to RGB(A) order as ERN's images are.

#include <string>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace ern {

inline cv::Mat libpng_decoded(const std::string& png) {
  cv::Mat image =
      cv::imdecode(cv::Mat(1, static_cast<int>(png.size()), CV_8U, const_cast<char*>(png.data())),
                   cv::IMREAD_UNCHANGED);
  if (image.channels() == 3) cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
  if (image.channels() == 4) cv::cvtColor(image, image, cv::COLOR_BGRA2RGBA);
  return image;
}

}  // namespace ern
