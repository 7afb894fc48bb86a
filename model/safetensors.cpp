#include "model/safetensors.h"

#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "model/safetensors_layout.h"

namespace ern {
namespace {

struct DtypeName {
  torch::ScalarType type;
  const char* name;
};

constexpr DtypeName kDtypes[] = {
    {torch::kFloat32, "F32"},   {torch::kFloat64, "F64"}, {torch::kFloat16, "F16"},
    {torch::kBFloat16, "BF16"}, {torch::kInt64, "I64"},   {torch::kInt32, "I32"},
    {torch::kUInt8, "U8"},      {torch::kBool, "BOOL"},
};

const char* dtype_name(torch::ScalarType type) {
  for (const auto& entry : kDtypes) {
    if (entry.type == type) return entry.name;
  }
  throw std::invalid_argument(std::string("safetensors: unsupported dtype ") + c10::toString(type));
}

torch::ScalarType dtype_from_name(const std::string& name, const std::string& where) {
  for (const auto& entry : kDtypes) {
    if (name == entry.name) return entry.type;
  }
  throw std::runtime_error(where + ": unsupported dtype '" + name + "'");
}

}  // namespace

void write_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> contiguous;
  size_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    auto cpu = tensor.detach().to(torch::kCPU).contiguous();
    const size_t bytes = cpu.numel() * cpu.element_size();
    header[name] = {{"dtype", dtype_name(cpu.scalar_type())},
                    {"shape", cpu.sizes().vec()},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
    contiguous.push_back(cpu);
  }
  std::string header_text = header.dump();
  header_text.append((8 - header_text.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned

  std::string content;
  content.reserve(8 + header_text.size() + offset);
  const uint64_t header_size = header_text.size();
  for (int i = 0; i < 8; ++i) content.push_back(static_cast<char>((header_size >> (8 * i)) & 0xff));
  content += header_text;
  for (const auto& tensor : contiguous) {
    content.append(static_cast<const char*>(tensor.data_ptr()),
                   tensor.numel() * tensor.element_size());
  }
  write_file_atomically(path, content);
}

NamedTensors read_safetensors(const std::filesystem::path& path) {
  return read_safetensors_file(path).tensors;
}

SafetensorsFile read_safetensors_file(const std::filesystem::path& path) {
  const std::string where = path.string();
  // A plain file of bounded size: not a device, a FIFO or a link to one.
  std::error_code error;
  const auto status = std::filesystem::symlink_status(path, error);
  if (error || !std::filesystem::is_regular_file(status)) {
    throw std::runtime_error(where + ": not a regular file");
  }
  const auto size = std::filesystem::file_size(path, error);
  if (error || size > kMaxSafetensorsBytes) {
    throw std::runtime_error(where + ": larger than " + std::to_string(kMaxSafetensorsBytes >> 20) +
                             " MiB");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(where + ": cannot open");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string content = buffer.str();
  auto layout = parse_safetensors_layout(content, where);
  SafetensorsFile file;
  file.metadata = std::move(layout.metadata);
  for (const auto& entry : layout.entries) {
    auto tensor = torch::empty(entry.shape,
                               torch::TensorOptions().dtype(dtype_from_name(entry.dtype, where)));
    std::memcpy(tensor.data_ptr(), content.data() + entry.begin, entry.end - entry.begin);
    file.tensors.emplace_back(entry.name, tensor);
  }
  return file;
}

}  // namespace ern
