#include "common/image_io.h"

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "common/atomic_file.h"
#include "common/png_decoder.h"

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
  std::string encoded;
  try {
    encoded = encode_image(image, path.extension().string().substr(1));
  } catch (const std::invalid_argument&) {
    throw std::runtime_error(path.string() +
                             ": cannot encode an image with this extension (use .png, .jpg, "
                             ".webp or .tif)");
  }
  write_file_atomically(path, encoded);
}

std::string image_format(const std::string& bytes) {
  const auto starts_with = [&](std::string_view prefix, size_t at = 0) {
    return bytes.size() >= at + prefix.size() && bytes.compare(at, prefix.size(), prefix) == 0;
  };
  if (starts_with("\x89PNG\r\n\x1a\n")) return "png";
  if (starts_with("\xff\xd8\xff")) return "jpeg";
  if (starts_with("RIFF") && starts_with("WEBP", 8)) return "webp";
  if (starts_with(std::string_view("II*\0", 4)) || starts_with(std::string_view("MM\0*", 4)))
    return "tiff";
  return "";
}

cv::Mat decode_image(const std::string& bytes) {
  const std::string format = image_format(bytes);
  if (format.empty()) throw std::invalid_argument("image: not a PNG, JPEG, WebP or TIFF image");
  if (format == "png") {
    if (auto decoded = decode_common_png(bytes)) return *decoded;
  }
  cv::Mat decoded;
  try {
    decoded = cv::imdecode(
        cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data())),
        cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception&) {
    decoded.release();
  }
  if (decoded.empty()) throw std::invalid_argument("image: cannot be decoded (damaged?)");
  if (decoded.depth() != CV_8U && decoded.depth() != CV_16U) {
    throw std::invalid_argument("image: only 8- and 16-bit images are supported");
  }
  return swap_red_blue(decoded);
}

std::string encode_image(const cv::Mat& image, const std::string& format, PngCompression png) {
  if (format == "png") return encode_png(image, png);
  static const std::map<std::string, std::string> kExtensions = {
      {"jpeg", ".jpg"}, {"jpg", ".jpg"}, {"webp", ".webp"}, {"tiff", ".tif"}, {"tif", ".tif"}};
  const auto extension = kExtensions.find(format);
  if (extension == kExtensions.end()) {
    throw std::invalid_argument("output_format: '" + format + "' is not png, jpeg, webp or tiff");
  }
  std::vector<uchar> encoded;
  bool ok = false;
  try {
    ok = cv::imencode(extension->second, swap_red_blue(image), encoded);
  } catch (const cv::Exception&) {
    ok = false;
  }
  if (!ok) throw std::invalid_argument("output_format: " + format + " cannot hold this image");
  return std::string(reinterpret_cast<const char*>(encoded.data()), encoded.size());
}

}  // namespace ern
