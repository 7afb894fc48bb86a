#include "common/png_encoder.h"

#include <png.h>
#include <zlib.h>

#include <stdexcept>

namespace ern {
namespace {

int color_type_of(int channels) {
  switch (channels) {
    case 1:
      return PNG_COLOR_TYPE_GRAY;
    case 3:
      return PNG_COLOR_TYPE_RGB;
    case 4:
      return PNG_COLOR_TYPE_RGB_ALPHA;
    default:
      throw std::invalid_argument("output_format: png holds 1, 3 or 4 channels, not " +
                                  std::to_string(channels));
  }
}

void append_to_string(png_structp png, png_bytep data, png_size_t length) {
  static_cast<std::string*>(png_get_io_ptr(png))
      ->append(reinterpret_cast<const char*>(data), length);
}

[[noreturn]] void raise_error(png_structp, png_const_charp message) {
  throw std::invalid_argument(std::string("output_format: png cannot hold this image (") + message +
                              ")");
}

// Owns libpng's write state; libpng reports errors through raise_error (an exception through C
// frames that hold no resources of their own: the state is freed here).
class PngWriter {
 public:
  PngWriter() {
    png_ = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, raise_error, nullptr);
    if (png_) info_ = png_create_info_struct(png_);
    if (!png_ || !info_) throw std::bad_alloc();
  }
  ~PngWriter() { png_destroy_write_struct(&png_, &info_); }
  PngWriter(const PngWriter&) = delete;
  PngWriter& operator=(const PngWriter&) = delete;
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

}  // namespace

std::string encode_png(const cv::Mat& image, PngCompression compression) {
  const int depth = image.depth();
  if (depth != CV_8U && depth != CV_16U)
    throw std::invalid_argument("output_format: png holds 8- or 16-bit images");
  const int color_type = color_type_of(image.channels());
  const int bits = depth == CV_8U ? 8 : 16;
  std::string out;
  out.reserve(image.total() * image.elemSize() / (compression == PngCompression::kNone ? 1 : 2) +
              (image.rows + 1024));
  PngWriter writer;
  png_structp png = writer.png();
  png_set_write_fn(png, &out, append_to_string, nullptr);
  png_set_IHDR(png, writer.info(), static_cast<png_uint_32>(image.cols),
               static_cast<png_uint_32>(image.rows), bits, color_type, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (compression == PngCompression::kNone) {
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_NONE);
    png_set_compression_level(png, Z_NO_COMPRESSION);
  } else {
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_FILTER_SUB);
    png_set_compression_level(png, Z_BEST_SPEED);
    png_set_compression_strategy(png, Z_RLE);
  }
  png_set_compression_buffer_size(png, 1 << 20);
  png_write_info(png, writer.info());
  if (bits == 16) png_set_swap(png);  // PNG stores samples big-endian
  for (int y = 0; y < image.rows; ++y)
    png_write_row(png, const_cast<png_bytep>(image.ptr<png_byte>(y)));
  png_write_end(png, writer.info());
  return out;
}

PngCompression parse_png_compression(const std::string& value, const std::string& field) {
  if (value == "fast") return PngCompression::kFast;
  if (value == "none") return PngCompression::kNone;
  throw std::invalid_argument(field + ": must be fast or none, got '" + value + "'");
}

}  // namespace ern
