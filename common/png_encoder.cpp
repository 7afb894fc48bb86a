#include "common/png_encoder.h"

#include <isa-l/igzip_lib.h>
#include <libdeflate.h>

#include <algorithm>
#include <cstring>
#include <limits>
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

// A zlib stream of `data`: stored blocks by libdeflate (ISA-L has no store-only level), or
// ISA-L's level 1, which takes half of libdeflate level 1's time on denoised photographs for a
// stream about 7% larger (512x512, 2-core Xeon: 1.75 ms against 3.5, 0.233 of the raw size
// against 0.218). Both fall back to stored blocks where compressing would expand the data.
std::vector<uint8_t> zlib_stream(const std::vector<uint8_t>& data, PngCompression compression) {
  if (data.size() > std::numeric_limits<uint32_t>::max()) {
    throw std::invalid_argument("png: an image of over 4 GiB is not written");
  }
  // The stored form's size bounds both: 5 bytes per block of at most 64 KiB, the zlib header and
  // trailer, and room for one Huffman header.
  std::vector<uint8_t> stream(data.size() + 5 * (data.size() / 65535 + 1) + 6 +
                              ISAL_DEF_MAX_HDR_SIZE);
  size_t stream_bytes = 0;
  if (compression == PngCompression::kNone) {
    libdeflate_compressor* compressor = libdeflate_alloc_compressor(0);
    if (!compressor) throw std::bad_alloc();
    stream_bytes = libdeflate_zlib_compress(compressor, data.data(), data.size(), stream.data(),
                                            stream.size());
    libdeflate_free_compressor(compressor);
  } else {
    // 80 KiB of state and 280 of scratch, on the heap and left uninitialized (make_unique would
    // zero them on every response): isal_deflate_stateless_init sets up what ISA-L reads, except
    // (in ISA-L 2.30) the window size, which a value left in reused memory would shrink.
    const std::unique_ptr<isal_zstream> state(new isal_zstream);
    const std::unique_ptr<uint8_t[]> level_buffer(new uint8_t[ISAL_DEF_LVL1_DEFAULT]);
    isal_deflate_stateless_init(state.get());
    state->hist_bits = 0;  // the full 32 KiB window
    state->level = 1;
    state->level_buf = level_buffer.get();
    state->level_buf_size = ISAL_DEF_LVL1_DEFAULT;
    state->gzip_flag = IGZIP_ZLIB;
    state->end_of_stream = 1;
    state->next_in = const_cast<uint8_t*>(data.data());  // ISA-L only reads it
    state->avail_in = static_cast<uint32_t>(data.size());
    state->next_out = stream.data();
    state->avail_out = static_cast<uint32_t>(stream.size());
    if (isal_deflate_stateless(state.get()) == COMP_OK) stream_bytes = state->total_out;
  }
  if (stream_bytes == 0) throw std::runtime_error("png: the deflate stream did not fit its bound");
  stream.resize(stream_bytes);
  return stream;
}

}  // namespace

std::string encode_png(const cv::Mat& image, PngCompression compression) {
  const int depth = image.depth();
  if (depth != CV_8U && depth != CV_16U)
    throw std::invalid_argument("output_format: png holds 8- or 16-bit images");
  const png::ColorType color_type = color_type_of(image.channels());
  const std::vector<uint8_t> rows = filtered_rows(image, compression);

  const std::vector<uint8_t> stream = zlib_stream(rows, compression);
  const size_t stream_bytes = stream.size();

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
