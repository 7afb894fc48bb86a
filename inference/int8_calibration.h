#pragma once
// Post-training int8 quantization's calibration: for each NAF block of a network, the largest
// magnitudes its four int8 convolution inputs reached in fp32 over calibration photographs (the
// val set). The normalized inputs of conv1 and conv4 have one range each (LayerNorm makes their
// channels alike); the gated inputs of conv3 and conv5 have one per channel, since their channels
// differ by orders of magnitude: each channel is quantized in steps of its own range / 127, and
// the convolution's weights take that step instead (equalization), so quiet channels keep their
// resolution. Weights are quantized per output channel. Stored in model.json as
// metadata.int8_calibration: {"encoders.0.0": {"attention_input": r, "projection_input": [r, ...],
// "feed_input": r, "feed_output_input": [r, ...]}, ...}

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/architecture.h"

namespace ern::inference {

struct ActivationRanges {
  float attention_input = 0.0f;          // the normalized x into conv1
  std::vector<float> projection_input;   // per channel: the attention-scaled gate into conv3
  float feed_input = 0.0f;               // the normalized x into conv4
  std::vector<float> feed_output_input;  // per channel: the gate into conv5
};

// By block name, the parameter prefix of the block ("encoders.0.1", "middle_blks.0", ...).
using Int8Calibration = std::map<std::string, ActivationRanges>;

nlohmann::json to_json(const Int8Calibration& calibration);

// metadata.int8_calibration of a model of `architecture`; throws std::invalid_argument naming the
// field when it is not an object of at most one entry per block, each with finite positive ranges
// (per-channel ones at most as many as the network's widest level). The engine checks that each
// block's per-channel ranges match its width.
Int8Calibration int8_calibration_of(const nlohmann::json& metadata,
                                    const NafnetArchitecture& architecture);

// The step of int8 values covering [-range, range].
inline float int8_step(float range) { return range / 127.0f; }

}  // namespace ern::inference
