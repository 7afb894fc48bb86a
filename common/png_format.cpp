#include "common/png_format.h"

#include <libdeflate.h>

namespace ern::png {

std::array<uint8_t, kHeaderBytes> header_bytes(const Header& header) {
  std::array<uint8_t, kHeaderBytes> bytes{};
  for (int i = 0; i < 4; ++i) {
    bytes[i] = static_cast<uint8_t>(header.width >> (24 - 8 * i));
    bytes[4 + i] = static_cast<uint8_t>(header.height >> (24 - 8 * i));
  }
  bytes[8] = header.bit_depth;
  bytes[9] = static_cast<uint8_t>(header.color_type);
  bytes[10] = header.compression;
  bytes[11] = header.filter;
  bytes[12] = header.interlace;
  return bytes;
}

Header parse_header(const uint8_t* bytes) {
  Header header;
  header.width = read_u32(bytes);
  header.height = read_u32(bytes + 4);
  header.bit_depth = bytes[8];
  header.color_type = static_cast<ColorType>(bytes[9]);
  header.compression = bytes[10];
  header.filter = bytes[11];
  header.interlace = bytes[12];
  return header;
}

uint32_t chunk_crc(const char* type_then_data, size_t size) {
  return libdeflate_crc32(0, type_then_data, 4 + size);
}

}  // namespace ern::png
