// Search specs as clients submit them: any text either parses to a spec that validates, or throws
// std::invalid_argument naming a field.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "model/search_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto spec = ern::parse_search_spec(text);
    spec.validate();
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
