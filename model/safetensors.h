#pragma once
// Reads and writes named tensors in the safetensors layout: an 8-byte little-endian header length,
// a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian data. It is
// language neutral, so Python tools and other runtimes read ERN weights without LibTorch.

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ern {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// Written atomically (temporary file, then rename).
void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Throws std::runtime_error naming the file and what is wrong with it.
// The largest weights file read (a width-64 NAFNet in fp32 is about 0.3 GB).
constexpr uint64_t kMaxSafetensorsBytes = uint64_t{2} << 30;

NamedTensors read_safetensors(const std::filesystem::path& path);

struct SafetensorsFile {
  NamedTensors tensors;
  std::map<std::string, std::string> metadata;
};
SafetensorsFile read_safetensors_file(const std::filesystem::path& path);

}  // namespace ern
