#pragma once
// Image dimensions read from the first bytes of a PNG, JPEG, WebP or TIFF file, without decoding
// any pixels: a server checks them against its limits before it lets a decoder allocate
// (a few hundred bytes can claim a gigapixel image).

#include <cstdint>
#include <string>

namespace ern {

struct ImageDimensions {
  int64_t width = 0;
  int64_t height = 0;
};

// `format` as image_format() names it. Throws std::invalid_argument ("image: ...") when the header
// is truncated or malformed, or the format is not one of the four.
ImageDimensions peek_image_dimensions(const std::string& bytes, const std::string& format);

}  // namespace ern
