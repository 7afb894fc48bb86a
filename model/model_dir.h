#pragma once
// A model directory: `model.json` (architecture, genotype, metadata with parameter count, G MACs at
// 256x256 and provenance) beside `weights.safetensors`.

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "model/nafnet.h"
#include "model/safetensors.h"

namespace ern {

inline constexpr const char* kModelJson = "model.json";
inline constexpr const char* kWeightsFile = "weights.safetensors";

struct LoadedModel {
  NafnetArchitecture architecture;
  nlohmann::json metadata;
  Nafnet network{nullptr};
};

// How weights are stored. Loading always restores fp32; fp16 halves the size of a shipped model.
enum class WeightStorage { kFloat32, kFloat16 };

// Writes weights first and model.json last (both atomically), so a directory with a model.json
// always has complete weights. `provenance` says where the weights came from; `serving` what
// Denoise computes it in: metadata.serving_precision (fp32, bf16 or int8, inference/precision.h)
// and, for int8, metadata.int8_calibration (inference/int8_calibration.h).
void save_model_dir(const std::filesystem::path& directory, Nafnet& network,
                    const nlohmann::json& provenance,
                    WeightStorage storage = WeightStorage::kFloat32,
                    const nlohmann::json& serving = {{"serving_precision", "fp32"}});

// Reads model.json only (cheap; no weights).
nlohmann::json read_model_json(const std::filesystem::path& directory);

// Builds the network and loads its weights; throws std::runtime_error naming the missing,
// unexpected or wrongly shaped tensor.
LoadedModel load_model_dir(const std::filesystem::path& directory);

// Copies `tensors` into the module's parameters and buffers by name. Every module tensor must be
// present with its exact shape and nothing else may be there; errors name the tensor and `source`.
void load_named_tensors(torch::nn::Module& module, const NamedTensors& tensors,
                        const std::string& source);

NamedTensors named_tensors_of(torch::nn::Module& module);

}  // namespace ern
