// Weights files from imported model directories: the layout parser accepts only entries whose
// bytes lie inside the file, or throws std::runtime_error.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "model/safetensors_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string content(reinterpret_cast<const char*>(data), size);
  try {
    for (const auto& entry : ern::parse_safetensors_layout(content, "fuzz").entries) {
      if (entry.begin > entry.end || entry.end > content.size()) std::abort();
    }
  } catch (const std::runtime_error&) {
  }
  return 0;
}
