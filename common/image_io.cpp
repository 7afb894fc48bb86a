#include "common/image_io.h"

#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/atomic_file.h"

namespace ern {
namespace {

// OpenCV stores colour as BGR(A); this swaps to and from RGB(A) and leaves gray alone.
cv::Mat swap_red_blue(const cv::Mat& image) {
  cv::Mat out;
  switch (image.channels()) {
    case 3:
      cv::cvtColor(image, out, cv::COLOR_BGR2RGB);
      return out;
    case 4:
      cv::cvtColor(image, out, cv::COLOR_BGRA2RGBA);
      return out;
    default:
      return image;
  }
}

}  // namespace

cv::Mat read_image(const std::filesystem::path& path) {
  if (!std::filesystem::is_regular_file(path)) {
    throw std::runtime_error(path.string() + ": no such file");
  }
  cv::Mat image = cv::imread(path.string(), cv::IMREAD_UNCHANGED);
  if (image.empty()) throw std::runtime_error(path.string() + ": not a readable image");
  if (image.depth() != CV_8U && image.depth() != CV_16U) {
    throw std::runtime_error(path.string() + ": only 8- and 16-bit images are supported");
  }
  return swap_red_blue(image);
}

cv::Mat read_rgb8(const std::filesystem::path& path) {
  cv::Mat image = read_image(path);
  if (image.depth() == CV_16U) image.convertTo(image, CV_8U, 1.0 / 257.0);
  cv::Mat rgb;
  switch (image.channels()) {
    case 1:
      cv::cvtColor(image, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 4:
      cv::cvtColor(image, rgb, cv::COLOR_RGBA2RGB);
      break;
    default:
      rgb = image;
  }
  return rgb;
}

void write_image(const std::filesystem::path& path, const cv::Mat& image) {
  std::vector<uchar> encoded;
  bool ok = false;
  try {
    ok = cv::imencode(path.extension().string(), swap_red_blue(image), encoded);
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok) {
    throw std::runtime_error(path.string() +
                             ": cannot encode an image with this extension (use .png, .jpg, "
                             ".webp or .tif)");
  }
  write_file_atomically(
      path, std::string_view(reinterpret_cast<const char*>(encoded.data()), encoded.size()));
}

}  // namespace ern
