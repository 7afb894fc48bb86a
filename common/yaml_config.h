#pragma once
// Reading YAML configs with errors that name the field: every ERN config (training recipes, search
// specs, device farm profiles) goes through these.

#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>

#include <yaml-cpp/yaml.h>

namespace ern {

// Throws std::runtime_error when the file cannot be read, std::invalid_argument on bad YAML.
YAML::Node load_yaml_file(const std::filesystem::path& path);

// Reads node[key] into `target` when present; a value of the wrong type throws
// std::invalid_argument "<prefix><key>: bad value '...'".
template <typename T>
void read_yaml_field(const YAML::Node& node, const std::string& prefix, const char* key,
                     T& target) {
  const auto value = node[key];
  if (!value) return;
  try {
    target = value.as<T>();
  } catch (const YAML::Exception&) {
    throw std::invalid_argument(prefix + key + ": bad value '" + YAML::Dump(value) + "'");
  }
}

// Throws std::invalid_argument "<prefix><key>: unknown field" for a key not in `known`, and when
// `node` is present but not a mapping.
void reject_unknown_fields(const YAML::Node& node, const std::string& prefix,
                           const std::set<std::string>& known);

}  // namespace ern
