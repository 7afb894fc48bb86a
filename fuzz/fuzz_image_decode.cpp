// The Denoise image path: format sniffing, the header check that runs before any decoder, and
// decoding what the check let through, which must then be the size the header claimed.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "common/image_header.h"
#include "common/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  const std::string format = ern::image_format(bytes);
  if (format.empty()) return 0;
  ern::ImageDimensions dimensions;
  try {
    dimensions = ern::peek_image_dimensions(bytes, format);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  // The server's limit stands in at a size the fuzzer can afford.
  if (dimensions.width <= 0 || dimensions.height <= 0 ||
      dimensions.width > (1 << 20) / dimensions.height) {
    return 0;
  }
  try {
    const auto image = ern::decode_image(bytes);
    // What Denoise refuses, never a crash: the decoder may disagree with the header, but it may
    // not produce more than the header let through by much (formats with several frames aside).
    if (image.total() > static_cast<size_t>(64 * (1 << 20))) std::abort();
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
