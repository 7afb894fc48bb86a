#include "inference/int8_calibration.h"

#include <cmath>
#include <stdexcept>

namespace ern::inference {

nlohmann::json to_json(const Int8Calibration& calibration) {
  auto json = nlohmann::json::object();
  for (const auto& [block, ranges] : calibration) {
    json[block] = {{"attention_input", ranges.attention_input},
                   {"projection_input", ranges.projection_input},
                   {"feed_input", ranges.feed_input},
                   {"feed_output_input", ranges.feed_output_input}};
  }
  return json;
}

Int8Calibration int8_calibration_of(const nlohmann::json& metadata,
                                    const NafnetArchitecture& architecture) {
  const size_t max_blocks =
      architecture.searchable_blocks().size() + static_cast<size_t>(architecture.middle_blocks);
  const auto max_channels = static_cast<size_t>(architecture.width)
                            << architecture.encoder_blocks.size();
  const std::string field = "metadata.int8_calibration";
  const auto found = metadata.find("int8_calibration");
  if (found == metadata.end()) {
    throw std::invalid_argument(field + ": missing; an int8 model needs its calibration (ernctl " +
                                "model export --precision int8 --calibration-images DIR)");
  }
  if (!found->is_object() || found->size() > max_blocks) {
    throw std::invalid_argument(field + ": must be an object of at most " +
                                std::to_string(max_blocks) + " blocks");
  }
  Int8Calibration calibration;
  for (const auto& [block, values] : found->items()) {
    const std::string prefix = field + "." + block.substr(0, 64) + ".";
    const auto range = [&](const nlohmann::json& value, const std::string& name) {
      if (!value.is_number() || !std::isfinite(value.get<float>()) || value.get<float>() <= 0.0f) {
        throw std::invalid_argument(prefix + name + ": must be a finite positive range");
      }
      return value.get<float>();
    };
    const auto scalar = [&](const std::string& name) {
      if (!values.is_object() || !values.contains(name)) {
        throw std::invalid_argument(prefix + name + ": missing");
      }
      return range(values[name], name);
    };
    const auto per_channel = [&](const std::string& name) {
      if (!values.is_object() || !values.contains(name) || !values[name].is_array() ||
          values[name].empty() || values[name].size() > max_channels) {
        throw std::invalid_argument(prefix + name + ": must be an array of 1 to " +
                                    std::to_string(max_channels) + " ranges");
      }
      std::vector<float> ranges;
      for (const auto& value : values[name]) ranges.push_back(range(value, name));
      return ranges;
    };
    auto& ranges = calibration[block];
    ranges.attention_input = scalar("attention_input");
    ranges.projection_input = per_channel("projection_input");
    ranges.feed_input = scalar("feed_input");
    ranges.feed_output_input = per_channel("feed_output_input");
  }
  return calibration;
}

}  // namespace ern::inference
