#include "common/png_encoder.h"

#include <libdeflate.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>

#include "common/png_format.h"

namespace ern {
namespace {

constexpr size_t kMaxChunkBytes = size_t{1} << 20;  // IDAT chunks of at most 1 MiB each

png::ColorType color_type_of(int channels) {
  switch (channels) {
    case 1:
      return png::ColorType::kGray;
    case 3:
      return png::ColorType::kRgb;
    case 4:
      return png::ColorType::kRgba;
    default:
      throw std::invalid_argument("output_format: png holds 1, 3 or 4 channels, not " +
                                  std::to_string(channels));
  }
}

void append_chunk(std::string& out, const char type[4], const uint8_t* data, size_t size) {
  png::append_u32(out, static_cast<uint32_t>(size));
  const size_t type_at = out.size();
  out.append(type, 4);
  out.append(reinterpret_cast<const char*>(data), size);
  png::append_u32(out, png::chunk_crc(out.data() + type_at, size));
}

// Each row behind its filter-type byte: unfiltered, or minus the row above (UP; the first row's
// "above" is zeros), 16-bit samples turned big-endian first as PNG stores them.
std::vector<uint8_t> filtered_rows(const cv::Mat& image, PngCompression compression) {
  const size_t row_bytes = image.cols * image.elemSize();
  const bool wide = image.depth() == CV_16U;
  const bool up = compression == PngCompression::kFast;
  std::vector<uint8_t> rows((row_bytes + 1) * image.rows);
  std::vector<uint8_t> zeros(row_bytes, 0), swapped[2];
  if (wide) swapped[0].resize(row_bytes), swapped[1].resize(row_bytes);
  const uint8_t* above = zeros.data();
  for (int y = 0; y < image.rows; ++y) {
    const uint8_t* row = image.ptr<uint8_t>(y);
    if (wide) {
      uint8_t* big_endian = swapped[y % 2].data();
      for (size_t i = 0; i < row_bytes; i += 2) {
        big_endian[i] = row[i + 1];
        big_endian[i + 1] = row[i];
      }
      row = big_endian;
    }
    uint8_t* out = rows.data() + y * (row_bytes + 1);
    out[0] = up ? png::kFilterUp : png::kFilterNone;
    if (up) {
      for (size_t i = 0; i < row_bytes; ++i) out[1 + i] = static_cast<uint8_t>(row[i] - above[i]);
    } else {
      std::memcpy(out + 1, row, row_bytes);
    }
    above = row;
  }
  return rows;
}

struct CompressorDeleter {
  void operator()(libdeflate_compressor* compressor) const {
    libdeflate_free_compressor(compressor);
  }
};

}  // namespace

std::string encode_png(const cv::Mat& image, PngCompression compression) {
  const int depth = image.depth();
  if (depth != CV_8U && depth != CV_16U)
    throw std::invalid_argument("output_format: png holds 8- or 16-bit images");
  const png::ColorType color_type = color_type_of(image.channels());
  const std::vector<uint8_t> rows = filtered_rows(image, compression);

  std::unique_ptr<libdeflate_compressor, CompressorDeleter> compressor(
      libdeflate_alloc_compressor(compression == PngCompression::kFast ? 1 : 0));
  if (!compressor) throw std::bad_alloc();
  std::vector<uint8_t> stream(libdeflate_zlib_compress_bound(compressor.get(), rows.size()));
  const size_t stream_bytes = libdeflate_zlib_compress(compressor.get(), rows.data(), rows.size(),
                                                       stream.data(), stream.size());
  if (stream_bytes == 0) throw std::runtime_error("png: the deflate stream did not fit its bound");

  std::string out;
  out.reserve(stream_bytes + stream_bytes / kMaxChunkBytes * 12 + 64);
  out.append(png::kSignature, sizeof(png::kSignature));
  const png::Header header{static_cast<uint32_t>(image.cols), static_cast<uint32_t>(image.rows),
                           static_cast<uint8_t>(depth == CV_8U ? 8 : 16), color_type};
  const auto ihdr = png::header_bytes(header);
  append_chunk(out, "IHDR", ihdr.data(), ihdr.size());
  for (size_t at = 0; at < stream_bytes; at += kMaxChunkBytes) {
    append_chunk(out, "IDAT", stream.data() + at, std::min(kMaxChunkBytes, stream_bytes - at));
  }
  append_chunk(out, "IEND", nullptr, 0);
  return out;
}

PngCompression parse_png_compression(const std::string& value, const std::string& field) {
  if (value == "fast") return PngCompression::kFast;
  if (value == "none") return PngCompression::kNone;
  throw std::invalid_argument(field + ": must be fast or none, got '" + value + "'");
}

}  // namespace ern
