#include "model/model_dir.h"

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

#include "common/atomic_file.h"
#include "model/mac_counter.h"

namespace ern {
namespace {

constexpr int kFormatVersion = 1;

std::string shape_text(at::IntArrayRef shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

std::string utc_now() {
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return text;
}

}  // namespace

NamedTensors named_tensors_of(torch::nn::Module& module) {
  NamedTensors tensors;
  for (const auto& item : module.named_parameters()) tensors.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers()) tensors.emplace_back(item.key(), item.value());
  return tensors;
}

void load_named_tensors(torch::nn::Module& module, const NamedTensors& tensors,
                        const std::string& source) {
  std::map<std::string, torch::Tensor> by_name(tensors.begin(), tensors.end());
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : named_tensors_of(module)) {
    auto found = by_name.find(name);
    if (found == by_name.end()) {
      throw std::runtime_error(source + ": tensor '" + name + "' is missing (expected shape " +
                               shape_text(target.sizes()) + ")");
    }
    if (found->second.sizes() != target.sizes()) {
      throw std::runtime_error(source + ": tensor '" + name + "' has shape " +
                               shape_text(found->second.sizes()) + ", the architecture needs " +
                               shape_text(target.sizes()));
    }
    if (!found->second.is_floating_point()) {
      throw std::runtime_error(source + ": tensor '" + name + "' is not floating point");
    }
    target.copy_(found->second);
    by_name.erase(found);
  }
  if (!by_name.empty()) {
    throw std::runtime_error(source + ": unexpected tensor '" + by_name.begin()->first +
                             "' (not part of the architecture; " + std::to_string(by_name.size()) +
                             " extra in all)");
  }
}

void save_model_dir(const std::filesystem::path& directory, Nafnet& network,
                    const nlohmann::json& provenance, WeightStorage storage,
                    const nlohmann::json& serving) {
  std::filesystem::create_directories(directory);
  const auto& architecture = network->architecture();
  auto tensors = named_tensors_of(*network);
  if (storage == WeightStorage::kFloat16) {
    for (auto& [name, tensor] : tensors) tensor = tensor.detach().to(torch::kHalf);
  }
  write_safetensors(directory / kWeightsFile, tensors);

  const int64_t macs = count_conv_macs(
      *network, [&](const torch::Tensor& x) { return network->forward(x); },
      architecture.image_channels, 256, 256);
  nlohmann::json model = {
      {"format_version", kFormatVersion},
      {"architecture", architecture.to_json()},
      {"weights", kWeightsFile},
      {"metadata",
       {{"params", count_parameters(*network)},
        {"macs_256", macs},
        {"gmacs_256", static_cast<double>(macs) / 1e9},
        {"created_at", utc_now()},
        {"weights_dtype", storage == WeightStorage::kFloat16 ? "F16" : "F32"},
        {"provenance", provenance}}},
  };
  model["metadata"].update(serving);
  write_file_atomically(directory / kModelJson, model.dump(2) + "\n");
}

nlohmann::json read_model_json(const std::filesystem::path& directory) {
  const auto path = directory / kModelJson;
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": not found (is this a model directory?)");
  try {
    auto json = nlohmann::json::parse(in);
    const int version = json.at("format_version").get<int>();
    if (version != kFormatVersion) {
      throw std::runtime_error(path.string() + ": format_version " + std::to_string(version) +
                               " is not supported (expected " + std::to_string(kFormatVersion) +
                               ")");
    }
    return json;
  } catch (const nlohmann::json::exception& error) {
    throw std::runtime_error(path.string() + ": " + error.what());
  }
}

LoadedModel load_model_dir(const std::filesystem::path& directory) {
  auto json = read_model_json(directory);
  LoadedModel loaded;
  try {
    loaded.architecture = NafnetArchitecture::from_json(json.at("architecture"));
  } catch (const std::exception& error) {
    throw std::runtime_error((directory / kModelJson).string() + ": " + error.what());
  }
  loaded.metadata = json.value("metadata", nlohmann::json::object());
  loaded.network = Nafnet(loaded.architecture);
  // A model directory may come from anyone (an import): its weights file is a plain name inside
  // it, never a path to somewhere else.
  const std::string weights = json.value("weights", std::string(kWeightsFile));
  if (weights.empty() || weights.size() > 255 || weights.find('/') != std::string::npos ||
      weights.front() == '.') {
    throw std::runtime_error(std::string(kModelJson) +
                             ": weights must name a file in the model directory");
  }
  const auto weights_path = directory / weights;
  load_named_tensors(*loaded.network, read_safetensors(weights_path), weights_path.string());
  loaded.network->eval();
  return loaded;
}

}  // namespace ern
