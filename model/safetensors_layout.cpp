#include "model/safetensors_layout.h"

#include <limits>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/json_integer.h"

namespace ern {

size_t safetensors_element_size(const std::string& dtype) {
  if (dtype == "F64" || dtype == "I64") return 8;
  if (dtype == "F32" || dtype == "I32") return 4;
  if (dtype == "F16" || dtype == "BF16") return 2;
  if (dtype == "U8" || dtype == "BOOL") return 1;
  return 0;
}

SafetensorsLayout parse_safetensors_layout(const std::string& content, const std::string& where) {
  if (content.size() < 8) throw std::runtime_error(where + ": too short for a safetensors file");
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t(uint8_t(content[i])) << (8 * i);
  if (header_size > content.size() - 8) {
    throw std::runtime_error(where + ": header length exceeds the file size");
  }
  nlohmann::ordered_json header;
  try {
    header = nlohmann::ordered_json::parse(
        content.begin() + 8, content.begin() + 8 + static_cast<ptrdiff_t>(header_size));
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(where + ": bad header: " + error.what());
  }
  if (!header.is_object()) throw std::runtime_error(where + ": the header is not a JSON object");
  const size_t data_start = 8 + header_size;
  const size_t data_size = content.size() - data_start;

  SafetensorsLayout layout;
  for (const auto& [name, item] : header.items()) {
    if (name == "__metadata__") {
      if (!item.is_object())
        throw std::runtime_error(where + ": __metadata__ is not a JSON object");
      for (const auto& [key, value] : item.items()) {
        if (!value.is_string()) {
          throw std::runtime_error(where + ": __metadata__ '" + key.substr(0, 128) +
                                   "' is not a string");
        }
        layout.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    const std::string tensor_where = where + ": tensor '" + name.substr(0, 128) + "'";
    try {
      SafetensorsEntry entry;
      entry.name = name;
      entry.dtype = item.at("dtype").get<std::string>();
      const size_t element_size = safetensors_element_size(entry.dtype);
      if (element_size == 0) {
        throw std::runtime_error(tensor_where + ": unsupported dtype '" +
                                 entry.dtype.substr(0, 16) + "'");
      }
      // Integers that fit, never a converted float (found by fuzz/fuzz_safetensors).
      const auto integers = [&](const nlohmann::ordered_json& list, const char* field) {
        if (!list.is_array())
          throw std::runtime_error(tensor_where + ": " + field + " is not a list");
        std::vector<int64_t> values;
        for (const auto& value : list) {
          const auto integer = json_integer(value, INT64_MIN, INT64_MAX);
          if (!integer)
            throw std::runtime_error(tensor_where + ": " + field + " holds a non-integer");
          values.push_back(*integer);
        }
        return values;
      };
      entry.shape = integers(item.at("shape"), "shape");
      // The byte count, computed without overflow: no tensor is larger than the file.
      uint64_t bytes = element_size;
      for (const int64_t dim : entry.shape) {
        if (dim < 0) throw std::runtime_error(tensor_where + ": negative dimension in its shape");
        if (dim != 0 && bytes > data_size / static_cast<uint64_t>(dim)) {
          throw std::runtime_error(tensor_where + ": its shape is larger than the file");
        }
        bytes *= static_cast<uint64_t>(dim);
      }
      const auto offsets = integers(item.at("data_offsets"), "data_offsets");
      if (offsets.size() != 2 || offsets[0] < 0 || offsets[0] > offsets[1] ||
          static_cast<uint64_t>(offsets[1]) > data_size ||
          static_cast<uint64_t>(offsets[1] - offsets[0]) != bytes) {
        throw std::runtime_error(tensor_where + ": data_offsets do not match its shape and dtype");
      }
      entry.begin = data_start + offsets[0];
      entry.end = data_start + offsets[1];
      layout.entries.push_back(std::move(entry));
    } catch (const nlohmann::json::exception& error) {
      throw std::runtime_error(tensor_where + ": " + error.what());
    }
  }
  return layout;
}

}  // namespace ern
