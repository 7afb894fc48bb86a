#include "common/png_decoder.h"

#include <libdeflate.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "common/png_format.h"

namespace ern {
namespace {

// OpenCV's own limit (CV_IO_MAX_IMAGE_PIXELS): larger images go to it, and it refuses them.
constexpr uint64_t kMaxPixels = uint64_t{1} << 30;
// Deflate expands at most about 1032-fold (258-byte matches in a few bits each): a header that
// promises more than that of its data is not allocated for.
constexpr uint64_t kMaxInflation = 1032;

struct Chunks {
  png::Header header;
  std::vector<std::string_view> data;  // the IDAT chunks' data, in order
};

bool crc_matches(const uint8_t* chunk, uint32_t length) {
  return png::read_u32(chunk + 8 + length) ==
         png::chunk_crc(reinterpret_cast<const char*>(chunk + 4), length);
}

// The header and the image data of a PNG that this decoder reads, or nullopt.
std::optional<Chunks> read_chunks(std::string_view bytes) {
  const auto* base = reinterpret_cast<const uint8_t*>(bytes.data());
  std::optional<Chunks> chunks;
  for (size_t at = sizeof(png::kSignature); bytes.size() - at >= 12;) {
    const uint8_t* chunk = base + at;
    const uint32_t length = png::read_u32(chunk);
    if (length > bytes.size() - at - 12) return std::nullopt;
    const std::string_view type(reinterpret_cast<const char*>(chunk + 4), 4);
    if (type == "IHDR") {
      if (chunks || length != png::kHeaderBytes || !crc_matches(chunk, length)) return std::nullopt;
      chunks.emplace();
      chunks->header = png::parse_header(chunk + 8);
    } else if (type == "IDAT") {
      if (!chunks || !crc_matches(chunk, length)) return std::nullopt;
      chunks->data.emplace_back(reinterpret_cast<const char*>(chunk + 8), length);
    } else if (type == "IEND") {
      if (!chunks || chunks->data.empty()) return std::nullopt;
      return chunks;
    } else if (type == "PLTE" || type == "tRNS" || !(type[0] & 0x20)) {
      return std::nullopt;  // a palette, transparency, or an unknown critical chunk
    }
    at += 12 + size_t{length};
  }
  return std::nullopt;  // no IEND
}

int channels_of(png::ColorType type) {
  switch (type) {
    case png::ColorType::kGray:
      return 1;
    case png::ColorType::kRgb:
      return 3;
    case png::ColorType::kRgba:
      return 4;
    default:
      return 0;  // palette and gray with alpha: OpenCV's
  }
}

inline uint8_t paeth(int left, int above, int above_left) {
  const int to_left = std::abs(above - above_left), to_above = std::abs(left - above_left),
            to_corner = std::abs(left + above - 2 * above_left);
  if (to_left <= to_above && to_left <= to_corner) return static_cast<uint8_t>(left);
  return static_cast<uint8_t>(to_above <= to_corner ? above : above_left);
}

// One row of `size` bytes out of its filtered form `in` (PNG section 9), given the row above
// (already unfiltered; zeros above the first) and `step` bytes per pixel. False for an unknown
// filter type.
bool unfilter_row(uint8_t filter, const uint8_t* in, const uint8_t* above, uint8_t* out,
                  size_t size, size_t step) {
  switch (filter) {
    case png::kFilterNone:
      std::memcpy(out, in, size);
      return true;
    case png::kFilterSub:
      std::memcpy(out, in, step);
      for (size_t i = step; i < size; ++i) out[i] = static_cast<uint8_t>(in[i] + out[i - step]);
      return true;
    case png::kFilterUp:
      for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(in[i] + above[i]);
      return true;
    case png::kFilterAverage:
      for (size_t i = 0; i < step; ++i) out[i] = static_cast<uint8_t>(in[i] + (above[i] >> 1));
      for (size_t i = step; i < size; ++i)
        out[i] = static_cast<uint8_t>(in[i] + ((out[i - step] + above[i]) >> 1));
      return true;
    case png::kFilterPaeth:
      for (size_t i = 0; i < step; ++i) out[i] = static_cast<uint8_t>(in[i] + above[i]);
      for (size_t i = step; i < size; ++i)
        out[i] = static_cast<uint8_t>(in[i] + paeth(out[i - step], above[i], above[i - step]));
      return true;
    default:
      return false;
  }
}

void swap_bytes(uint8_t* row, size_t size) {
  for (size_t i = 0; i < size; i += 2) std::swap(row[i], row[i + 1]);
}

struct DecompressorDeleter {
  void operator()(libdeflate_decompressor* decompressor) const {
    libdeflate_free_decompressor(decompressor);
  }
};

}  // namespace

std::optional<cv::Mat> decode_common_png(std::string_view bytes) {
  const auto chunks = read_chunks(bytes);
  if (!chunks) return std::nullopt;
  const png::Header& header = chunks->header;
  const int channels = channels_of(header.color_type);
  if (channels == 0 || (header.bit_depth != 8 && header.bit_depth != 16) ||
      header.compression != 0 || header.filter != 0 || header.interlace != 0 || header.width == 0 ||
      header.height == 0 || uint64_t{header.width} * header.height > kMaxPixels) {
    return std::nullopt;
  }
  const size_t sample_bytes = header.bit_depth / 8, step = channels * sample_bytes;
  const size_t row_bytes = header.width * step;

  std::string joined;  // the deflate stream, when it spans several chunks
  std::string_view stream = chunks->data.front();
  if (chunks->data.size() > 1) {
    for (const auto part : chunks->data) joined.append(part);
    stream = joined;
  }
  const uint64_t filtered_bytes = uint64_t{header.height} * (row_bytes + 1);
  if (filtered_bytes > stream.size() * kMaxInflation + 64) return std::nullopt;
  std::vector<uint8_t> filtered(filtered_bytes);
  std::unique_ptr<libdeflate_decompressor, DecompressorDeleter> decompressor(
      libdeflate_alloc_decompressor());
  if (!decompressor) throw std::bad_alloc();
  // (Without an "actual size" out-parameter the stream must fill the buffer exactly.)
  if (libdeflate_zlib_decompress(decompressor.get(), stream.data(), stream.size(), filtered.data(),
                                 filtered.size(), nullptr) != LIBDEFLATE_SUCCESS) {
    return std::nullopt;
  }

  cv::Mat image(static_cast<int>(header.height), static_cast<int>(header.width),
                CV_MAKETYPE(sample_bytes == 1 ? CV_8U : CV_16U, channels));
  const std::vector<uint8_t> zeros(row_bytes, 0);
  for (int y = 0; y < image.rows; ++y) {
    const uint8_t* in = filtered.data() + y * (row_bytes + 1);
    const uint8_t* above = y == 0 ? zeros.data() : image.ptr<uint8_t>(y - 1);
    if (!unfilter_row(in[0], in + 1, above, image.ptr<uint8_t>(y), row_bytes, step))
      return std::nullopt;
    // 16-bit samples are big-endian in the file: the row above turns to host order once the
    // filter no longer needs it as stored.
    if (sample_bytes == 2 && y > 0) swap_bytes(image.ptr<uint8_t>(y - 1), row_bytes);
  }
  if (sample_bytes == 2) swap_bytes(image.ptr<uint8_t>(image.rows - 1), row_bytes);
  return image;
}

}  // namespace ern
