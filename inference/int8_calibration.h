#pragma once
// Post-training int8 quantization's calibration: for each NAF block of a network, the largest
// magnitude each of its four int8 convolution inputs reached in fp32 over calibration photographs
// (the val set). Each such input is quantized symmetrically in steps of range / 127 (per tensor;
// the weights per output channel). Stored in model.json as metadata.int8_calibration:
//   {"encoders.0.0": [attention_input, projection_input, feed_input, feed_output_input], ...}

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "model/architecture.h"

namespace ern::inference {

struct ActivationRanges {
  float attention_input = 0.0f;    // the normalized x into conv1
  float projection_input = 0.0f;   // the gated, attention-scaled values into conv3
  float feed_input = 0.0f;         // the normalized x into conv4
  float feed_output_input = 0.0f;  // the gated values into conv5

  // Widens each range to cover `other` too.
  void cover(const ActivationRanges& other);
};

// By block name, the parameter prefix of the block ("encoders.0.1", "middle_blks.0", ...).
using Int8Calibration = std::map<std::string, ActivationRanges>;

nlohmann::json to_json(const Int8Calibration& calibration);

// metadata.int8_calibration of a model of `architecture`; throws std::invalid_argument naming the
// field when it is not an object of at most one entry per block, each four finite positive ranges.
Int8Calibration int8_calibration_of(const nlohmann::json& metadata,
                                    const NafnetArchitecture& architecture);

// The step of int8 values covering [-range, range].
inline float int8_step(float range) { return range / 127.0f; }

}  // namespace ern::inference
