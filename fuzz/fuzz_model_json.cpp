// model.json of imported model directories: any JSON either yields an architecture that
// validates (and whose size can be computed without overflow) or throws.
#include <cstdint>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "model/architecture.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto json = nlohmann::json::parse(data, data + size, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("architecture")) return 0;
  try {
    const auto architecture = ern::NafnetArchitecture::from_json(json.at("architecture"));
    architecture.validate();
    (void)architecture.expected_parameter_count();
  } catch (const std::invalid_argument&) {
  } catch (const nlohmann::json::exception&) {
  }
  return 0;
}
