#pragma once
// The parts of the PNG format (ISO/IEC 15948) that png_encoder and png_decoder share: the
// signature, the header chunk, big-endian integers, chunk CRCs and the filter types.

#include <array>
#include <cstdint>
#include <string>

namespace ern::png {

inline constexpr char kSignature[8] = {'\x89', 'P', 'N', 'G', '\r', '\n', '\x1a', '\n'};
inline constexpr size_t kHeaderBytes = 13;

enum class ColorType : uint8_t { kGray = 0, kRgb = 2, kPalette = 3, kGrayAlpha = 4, kRgba = 6 };

inline constexpr uint8_t kFilterNone = 0, kFilterSub = 1, kFilterUp = 2, kFilterAverage = 3,
                         kFilterPaeth = 4;

struct Header {
  uint32_t width = 0;
  uint32_t height = 0;
  uint8_t bit_depth = 0;
  ColorType color_type = ColorType::kGray;
  uint8_t compression = 0;
  uint8_t filter = 0;
  uint8_t interlace = 0;
};

inline uint32_t read_u32(const uint8_t* bytes) {
  return uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 | bytes[3];
}

inline void append_u32(std::string& out, uint32_t value) {
  const char bytes[4] = {static_cast<char>(value >> 24), static_cast<char>(value >> 16),
                         static_cast<char>(value >> 8), static_cast<char>(value)};
  out.append(bytes, 4);
}

std::array<uint8_t, kHeaderBytes> header_bytes(const Header& header);
Header parse_header(const uint8_t* bytes);

// The CRC a chunk ends with: over its 4-byte type and then its `size` data bytes.
uint32_t chunk_crc(const char* type_then_data, size_t size);

}  // namespace ern::png
