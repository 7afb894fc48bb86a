#pragma once
// The layout of a safetensors file, checked without LibTorch: the header's entries (dtype, shape,
// where the bytes lie), each proven to fit the file before anything is allocated for it. Kept
// apart from safetensors.cpp so that the parser of untrusted files can be fuzzed on its own.

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace ern {

struct SafetensorsEntry {
  std::string name;
  std::string dtype;  // F32, F64, F16, BF16, I64, I32, U8 or BOOL
  std::vector<int64_t> shape;
  size_t begin = 0;  // byte offsets into the file's content
  size_t end = 0;
};

struct SafetensorsLayout {
  std::vector<SafetensorsEntry> entries;
  std::map<std::string, std::string> metadata;  // the header's `__metadata__`: strings only
};

// Bytes per element of a dtype name; 0 when the name is not one of those above.
size_t safetensors_element_size(const std::string& dtype);

// Throws std::runtime_error "<where>: ..." naming what is wrong: a short file, a header longer
// than the file, bad JSON, an unknown dtype, a negative or overflowing shape, or data offsets that
// do not match the shape or leave the file, or metadata that is not a map of strings.
SafetensorsLayout parse_safetensors_layout(const std::string& content, const std::string& where);

}  // namespace ern
