#include "common/image_header.h"

#include <stdexcept>

namespace ern {
namespace {

[[noreturn]] void malformed(const std::string& format, const std::string& what) {
  throw std::invalid_argument("image: " + format + " header " + what);
}

// Bounds-checked big- and little-endian reads.
class Reader {
 public:
  Reader(const std::string& bytes, std::string format)
      : bytes_(bytes), format_(std::move(format)) {}

  uint32_t byte(size_t at) const {
    if (at >= bytes_.size()) malformed(format_, "is truncated");
    return static_cast<uint8_t>(bytes_[at]);
  }
  uint32_t big(size_t at, int count) const {
    uint32_t value = 0;
    for (int i = 0; i < count; ++i) value = (value << 8) | byte(at + i);
    return value;
  }
  uint32_t little(size_t at, int count) const {
    uint32_t value = 0;
    for (int i = count - 1; i >= 0; --i) value = (value << 8) | byte(at + i);
    return value;
  }
  size_t size() const { return bytes_.size(); }
  const std::string& format() const { return format_; }

 private:
  const std::string& bytes_;
  std::string format_;
};

ImageDimensions png(const Reader& in) {
  // Signature (8), then the IHDR chunk: length (4), "IHDR", width, height (big-endian).
  if (in.big(12, 4) != 0x49484452) malformed("png", "does not start with IHDR");
  return {in.big(16, 4), in.big(20, 4)};
}

ImageDimensions jpeg(const Reader& in) {
  // Walk the markers up to the first start-of-frame (SOF0..SOF15 except DHT, JPG and DAC).
  size_t at = 2;
  while (true) {
    if (in.byte(at) != 0xFF) malformed("jpeg", "has a damaged marker");
    while (in.byte(at) == 0xFF) ++at;  // fill bytes
    const uint32_t marker = in.byte(at++);
    if (marker == 0xD9 || marker == 0xDA) malformed("jpeg", "has no frame header");
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) continue;  // no length
    const uint32_t length = in.big(at, 2);
    if (length < 2) malformed("jpeg", "has a damaged segment length");
    if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
      return {in.big(at + 5, 2), in.big(at + 3, 2)};  // precision, height, width
    }
    at += length;
  }
}

ImageDimensions webp(const Reader& in) {
  const uint32_t chunk = in.big(12, 4);
  if (chunk == 0x56503820) {  // "VP8 ": lossy; frame tag (3), start code (3), 14-bit sizes
    return {in.little(26, 2) & 0x3FFF, in.little(28, 2) & 0x3FFF};
  }
  if (chunk == 0x5650384C) {  // "VP8L": lossless; signature byte, then 14-bit sizes minus one
    const uint32_t bits = in.little(21, 4);
    return {(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (chunk == 0x56503858) {  // "VP8X": extended; flags (4), 24-bit canvas sizes minus one
    return {in.little(24, 3) + 1, in.little(27, 3) + 1};
  }
  malformed("webp", "has an unknown first chunk");
}

ImageDimensions tiff(const Reader& in) {
  const bool little_endian = in.byte(0) == 'I';
  const auto read = [&](size_t at, int count) {
    return little_endian ? in.little(at, count) : in.big(at, count);
  };
  if (read(2, 2) != 42) malformed("tiff", "is not a classic TIFF (BigTIFF is not accepted)");
  const size_t directory = read(4, 4);
  const uint32_t entries = read(directory, 2);
  ImageDimensions dimensions;
  for (uint32_t i = 0; i < entries; ++i) {
    const size_t entry = directory + 2 + 12 * static_cast<size_t>(i);
    const uint32_t tag = read(entry, 2);
    if (tag != 256 && tag != 257) continue;
    // Decoders disagree on a tag given twice (libtiff keeps the first): a file that says its size
    // twice, or in a form other than one SHORT or LONG, is refused rather than guessed at.
    int64_t& field = tag == 256 ? dimensions.width : dimensions.height;
    const char* name = tag == 256 ? "ImageWidth" : "ImageLength";
    if (field != 0) malformed("tiff", std::string("gives ") + name + " twice");
    const uint32_t type = read(entry + 2, 2), count = read(entry + 4, 4);
    if ((type != 3 && type != 4) || count != 1) {
      malformed("tiff", std::string("has an ") + name + " that is not one SHORT or LONG");
    }
    field = type == 3 ? read(entry + 8, 2) : read(entry + 8, 4);
    if (field == 0) malformed("tiff", std::string("has an ") + name + " of 0");
  }
  if (dimensions.width == 0 || dimensions.height == 0) {
    malformed("tiff", "has no image width and length");
  }
  return dimensions;
}

}  // namespace

ImageDimensions peek_image_dimensions(const std::string& bytes, const std::string& format) {
  const Reader in(bytes, format);
  if (format == "png") return png(in);
  if (format == "jpeg") return jpeg(in);
  if (format == "webp") return webp(in);
  if (format == "tiff") return tiff(in);
  throw std::invalid_argument("image: not a PNG, JPEG, WebP or TIFF image");
}

}  // namespace ern
