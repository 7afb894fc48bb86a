#include "common/yaml_config.h"

namespace ern {

YAML::Node load_yaml_file(const std::filesystem::path& path) {
  try {
    return YAML::LoadFile(path.string());
  } catch (const YAML::BadFile&) {
    throw std::runtime_error(path.string() + ": cannot read");
  } catch (const YAML::Exception& error) {
    throw std::invalid_argument(path.string() + ": " + error.what());
  }
}

void reject_unknown_fields(const YAML::Node& node, const std::string& prefix,
                           const std::set<std::string>& known) {
  if (!node) return;
  if (!node.IsMap())
    throw std::invalid_argument(prefix + (prefix.empty() ? "" : " ") + "expected a mapping");
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      throw std::invalid_argument(prefix + (prefix.empty() ? "" : " ") +
                                  "field names must be plain words");
    }
    const auto key = entry.first.Scalar();
    if (!known.count(key)) {
      throw std::invalid_argument(prefix + key.substr(0, 64) + ": unknown field");
    }
  }
}

}  // namespace ern
