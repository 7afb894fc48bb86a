#include "inference/int8_calibration.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace ern::inference {

void ActivationRanges::cover(const ActivationRanges& other) {
  attention_input = std::max(attention_input, other.attention_input);
  projection_input = std::max(projection_input, other.projection_input);
  feed_input = std::max(feed_input, other.feed_input);
  feed_output_input = std::max(feed_output_input, other.feed_output_input);
}

nlohmann::json to_json(const Int8Calibration& calibration) {
  auto json = nlohmann::json::object();
  for (const auto& [block, ranges] : calibration) {
    json[block] = {ranges.attention_input, ranges.projection_input, ranges.feed_input,
                   ranges.feed_output_input};
  }
  return json;
}

Int8Calibration int8_calibration_of(const nlohmann::json& metadata,
                                    const NafnetArchitecture& architecture) {
  auto max_blocks = static_cast<size_t>(architecture.middle_blocks);
  for (const int count : architecture.encoder_blocks) max_blocks += static_cast<size_t>(count);
  for (const int count : architecture.decoder_blocks) max_blocks += static_cast<size_t>(count);
  const std::string field = "metadata.int8_calibration";
  const auto found = metadata.find("int8_calibration");
  if (found == metadata.end()) {
    throw std::invalid_argument(field + ": missing; an int8 model needs its calibration (ernctl " +
                                "model export --precision int8 --images DIR measures it)");
  }
  if (!found->is_object() || found->size() > max_blocks) {
    throw std::invalid_argument(field + ": must be an object of at most " +
                                std::to_string(max_blocks) + " blocks");
  }
  Int8Calibration calibration;
  for (const auto& [block, values] : found->items()) {
    const auto fail = [&] {
      throw std::invalid_argument(field + "." + block.substr(0, 64) +
                                  ": must be four finite positive ranges");
    };
    if (!values.is_array() || values.size() != 4) fail();
    float ranges[4];
    for (size_t i = 0; i < 4; ++i) {
      if (!values[i].is_number()) fail();
      ranges[i] = values[i].get<float>();
      if (!std::isfinite(ranges[i]) || ranges[i] <= 0.0f) fail();
    }
    calibration[block] = {ranges[0], ranges[1], ranges[2], ranges[3]};
  }
  return calibration;
}

}  // namespace ern::inference
