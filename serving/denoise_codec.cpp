#include "serving/denoise_codec.h"

#include "common/image_header.h"
#include "common/image_io.h"
#include "common/rpc_error.h"

namespace ern::serving {
namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw RpcError(grpc::StatusCode::INVALID_ARGUMENT, message);
}

void check_pixel_limit(int64_t width, int64_t height, int64_t max_pixels) {
  if (width <= 0 || height <= 0) {
    invalid("image: " + std::to_string(width) + "x" + std::to_string(height) + " has no pixels");
  }
  // Divided, not multiplied: two 32-bit sides can overflow a 64-bit product past the check.
  if (width > max_pixels || height > max_pixels || width > max_pixels / height) {
    invalid("image: " + std::to_string(width) + "x" + std::to_string(height) +
            " is over the limit of " + std::to_string(max_pixels) + " pixels");
  }
}

cv::Mat from_raw(const v1::RawImage& raw, int64_t max_pixels) {
  if (raw.width() == 0) invalid("raw.width: must be > 0");
  if (raw.height() == 0) invalid("raw.height: must be > 0");
  if (raw.channels() != 1 && raw.channels() != 3 && raw.channels() != 4) {
    invalid("raw.channels: must be 1, 3 or 4, got " + std::to_string(raw.channels()));
  }
  if (raw.bit_depth() != 8 && raw.bit_depth() != 16) {
    invalid("raw.bit_depth: must be 8 or 16, got " + std::to_string(raw.bit_depth()));
  }
  check_pixel_limit(raw.width(), raw.height(), max_pixels);
  const uint64_t expected =
      uint64_t{raw.width()} * raw.height() * raw.channels() * (raw.bit_depth() / 8);
  if (raw.pixels().size() != expected) {
    invalid("raw.pixels: " + std::to_string(raw.pixels().size()) + " bytes, but " +
            std::to_string(raw.width()) + "x" + std::to_string(raw.height()) + "x" +
            std::to_string(raw.channels()) + " " + std::to_string(raw.bit_depth()) +
            "-bit pixels take " + std::to_string(expected));
  }
  const int depth = raw.bit_depth() == 8 ? CV_8U : CV_16U;  // 16-bit: little-endian host order
  // A read-only view of the request's bytes: nothing writes to it, and the request outlives it.
  return cv::Mat(static_cast<int>(raw.height()), static_cast<int>(raw.width()),
                 CV_MAKETYPE(depth, static_cast<int>(raw.channels())),
                 const_cast<char*>(raw.pixels().data()));
}

void to_raw(const cv::Mat& image, v1::RawImage& raw) {
  const cv::Mat dense = image.isContinuous() ? image : image.clone();
  raw.set_width(dense.cols);
  raw.set_height(dense.rows);
  raw.set_channels(dense.channels());
  raw.set_bit_depth(dense.depth() == CV_16U ? 16 : 8);
  raw.set_pixels(reinterpret_cast<const char*>(dense.data), dense.total() * dense.elemSize());
}

}  // namespace

RequestImage decode_request_image(const v1::DenoiseRequest& request, int64_t max_pixels,
                                  PixelBudget& budget) {
  if (request.input_case() == v1::DenoiseRequest::kRaw) {
    cv::Mat pixels = from_raw(request.raw(), max_pixels);
    return {pixels, "raw", budget.acquire(int64_t{pixels.cols} * pixels.rows)};
  }
  const std::string& bytes = request.image();
  if (bytes.empty()) invalid("image: must not be empty (or send raw pixels)");
  const std::string format = image_format(bytes);
  if (format.empty()) invalid("image: not a PNG, JPEG, WebP or TIFF image");
  try {
    const auto dimensions = peek_image_dimensions(bytes, format);
    check_pixel_limit(dimensions.width, dimensions.height, max_pixels);
    auto lease = budget.acquire(dimensions.width * dimensions.height);
    cv::Mat decoded = decode_image(bytes);
    // The header is what was checked; a decoder that disagrees with it is not trusted.
    if (decoded.cols != dimensions.width || decoded.rows != dimensions.height) {
      invalid("image: decodes to a different size than its header says");
    }
    return {decoded, format, std::move(lease)};
  } catch (const std::invalid_argument& error) {
    invalid(error.what());
  }
}

std::string choose_output_format(const std::string& requested, const RequestImage& input) {
  const std::string format = requested.empty() ? input.format : requested;
  if (format == "jpg") return choose_output_format("jpeg", input);
  if (format != "png" && format != "jpeg" && format != "webp" && format != "tiff" &&
      format != "raw") {
    invalid("output_format: '" + format + "' is not png, jpeg, webp, tiff or raw");
  }
  if ((format == "jpeg" || format == "webp") && input.pixels.depth() != CV_8U) {
    invalid("output_format: " + format + " holds only 8-bit images (use png, tiff or raw)");
  }
  if (format == "jpeg" && input.pixels.channels() == 4) {
    invalid("output_format: jpeg has no alpha channel (use png, webp, tiff or raw)");
  }
  return format;
}

void encode_response_image(const cv::Mat& image, const std::string& format, PngCompression png,
                           v1::DenoiseResponse& response) {
  if (format == "raw") {
    to_raw(image, *response.mutable_raw());
  } else {
    try {
      response.set_image(encode_image(image, format, png));
    } catch (const std::invalid_argument& error) {
      invalid(error.what());
    }
  }
  response.set_output_format(format);
}

}  // namespace ern::serving
