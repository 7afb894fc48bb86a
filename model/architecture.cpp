#include "model/architecture.h"

#include <cstdint>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/json_integer.h"

namespace ern {
namespace {

constexpr int kMaxWidth = 1024;
constexpr int kMaxBlocksPerStage = 64;
constexpr int kMaxStages = 6;
// 1 GiB of fp32 weights: four times NAFNet-width64, the largest released; anything larger is
// refused before a tensor is allocated (an import claiming width 1024 would take gigabytes).
constexpr std::int64_t kMaxParameters = std::int64_t{1} << 28;

std::string join(const std::vector<int>& values, const char* separator) {
  std::ostringstream out;
  for (size_t i = 0; i < values.size(); ++i) out << (i ? separator : "") << values[i];
  return out.str();
}

void check_stage_list(const std::vector<int>& blocks, const std::string& field) {
  if (blocks.empty() || static_cast<int>(blocks.size()) > kMaxStages) {
    throw std::invalid_argument(field + ": needs 1.." + std::to_string(kMaxStages) +
                                " stages, got " + std::to_string(blocks.size()));
  }
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (blocks[i] < 0 || blocks[i] > kMaxBlocksPerStage) {
      throw std::invalid_argument(
          field + "[" + std::to_string(i) + "]: block count must be in 0.." +
          std::to_string(kMaxBlocksPerStage) + ", got " + std::to_string(blocks[i]));
    }
  }
}

}  // namespace

void NafnetArchitecture::validate() const {
  if (image_channels != 1 && image_channels != 3) {
    throw std::invalid_argument("image_channels: must be 1 or 3, got " +
                                std::to_string(image_channels));
  }
  if (width < 2 || width > kMaxWidth || width % 2 != 0) {
    throw std::invalid_argument("width: must be an even number in 2.." + std::to_string(kMaxWidth) +
                                ", got " + std::to_string(width));
  }
  check_stage_list(encoder_blocks, "encoder_blocks");
  check_stage_list(decoder_blocks, "decoder_blocks");
  if (decoder_blocks.size() != encoder_blocks.size()) {
    throw std::invalid_argument("decoder_blocks: must have as many stages as encoder_blocks (" +
                                std::to_string(encoder_blocks.size()) + "), got " +
                                std::to_string(decoder_blocks.size()));
  }
  const size_t searchable = searchable_blocks().size();
  if (!genotype.empty() && genotype.size() != searchable) {
    throw std::invalid_argument("genotype: needs one alternative per encoder/decoder block (" +
                                std::to_string(searchable) + "), got " +
                                std::to_string(genotype.size()));
  }
  if (middle_blocks < 0 || middle_blocks > kMaxBlocksPerStage) {
    throw std::invalid_argument("middle_blocks: must be in 0.." +
                                std::to_string(kMaxBlocksPerStage) + ", got " +
                                std::to_string(middle_blocks));
  }
  const auto parameters = expected_parameter_count();
  if (parameters > kMaxParameters) {
    throw std::invalid_argument("width: " + describe() + " would have " +
                                std::to_string(parameters) + " parameters; at most " +
                                std::to_string(kMaxParameters) + " are allowed");
  }
}

double NafnetArchitecture::activation_floats_per_pixel(int paths) const {
  constexpr double kTensorsPerBlock = 24;
  double floats = 0;
  double channels_per_pixel = width;  // channels over the pixels of the input they cover
  for (int blocks : encoder_blocks) {
    floats += blocks * channels_per_pixel;
    channels_per_pixel /= 2;  // twice the channels on a quarter of the pixels
  }
  floats += middle_blocks * channels_per_pixel;
  for (auto it = decoder_blocks.rbegin(); it != decoder_blocks.rend(); ++it) {
    channels_per_pixel *= 2;
    floats += *it * channels_per_pixel;
  }
  return floats * kTensorsPerBlock * paths;
}

std::vector<SearchableBlock> NafnetArchitecture::searchable_blocks() const {
  std::vector<SearchableBlock> blocks;
  const int stages = static_cast<int>(encoder_blocks.size());
  for (int stage = 0; stage < stages; ++stage) {
    for (int i = 0; i < encoder_blocks[stage]; ++i) {
      blocks.push_back({"encoders." + std::to_string(stage) + "." + std::to_string(i),
                        width << stage, 1 << stage});
    }
  }
  for (int stage = 0; stage < static_cast<int>(decoder_blocks.size()); ++stage) {
    const int level = stages - 1 - stage;
    for (int i = 0; i < decoder_blocks[stage]; ++i) {
      blocks.push_back({"decoders." + std::to_string(stage) + "." + std::to_string(i),
                        width << level, 1 << level});
    }
  }
  return blocks;
}

BlockAlternative NafnetArchitecture::alternative_of(size_t index) const {
  return genotype.empty() ? BlockAlternative::kNaf : genotype.at(index);
}

std::int64_t NafnetArchitecture::expected_parameter_count() const {
  const std::int64_t img = image_channels;
  std::int64_t c = width;
  // intro and ending: 3x3 convolutions with bias.
  std::int64_t total = (img * c * 9 + c) + (c * img * 9 + img);
  for (size_t stage = 0; stage < encoder_blocks.size(); ++stage) {
    total += (c * 2 * c * 4) + 2 * c;  // 2x2 stride-2 down convolution with bias
    c *= 2;
  }
  total += middle_blocks * block_parameter_count(BlockAlternative::kNaf, c);
  for (size_t stage = 0; stage < decoder_blocks.size(); ++stage) {
    total += c * 2 * c;  // 1x1 up convolution without bias, then PixelShuffle(2)
    c /= 2;
  }
  const auto blocks = searchable_blocks();
  for (size_t i = 0; i < blocks.size(); ++i) {
    total += block_parameter_count(alternative_of(i), blocks[i].channels);
  }
  return total;
}

std::string NafnetArchitecture::describe() const {
  std::string text = "width " + std::to_string(width) + ", (" + join(encoder_blocks, "-") + ")-" +
                     std::to_string(middle_blocks) + "-(" + join(decoder_blocks, "-") + ")";
  if (!genotype.empty()) {
    text += ", genotype";
    for (size_t i = 0; i < genotype.size(); ++i)
      text += (i ? "," : " ") + alternative_id(genotype[i]);
  }
  return text;
}

nlohmann::json NafnetArchitecture::to_json() const {
  nlohmann::json json = {{"family", "nafnet"},
                         {"image_channels", image_channels},
                         {"width", width},
                         {"encoder_blocks", encoder_blocks},
                         {"middle_blocks", middle_blocks},
                         {"decoder_blocks", decoder_blocks}};
  if (!genotype.empty()) {
    auto& ids = json["genotype"] = nlohmann::json::array();
    for (auto alternative : genotype) ids.push_back(alternative_id(alternative));
  }
  return json;
}

namespace {

// An integer field of a model.json (found by fuzz/fuzz_model_json: 2.2e48 as a block count).
int json_int(const nlohmann::json& value, const std::string& field) {
  const auto integer = json_integer(value, INT32_MIN, INT32_MAX);
  if (!integer) {
    throw std::invalid_argument("architecture: " + field + " must be an integer, got " +
                                value.dump().substr(0, 32));
  }
  return static_cast<int>(*integer);
}

std::vector<int> json_ints(const nlohmann::json& value, const std::string& field) {
  if (!value.is_array()) throw std::invalid_argument("architecture: " + field + " must be a list");
  std::vector<int> values;
  for (const auto& item : value) values.push_back(json_int(item, field));
  return values;
}

}  // namespace

NafnetArchitecture NafnetArchitecture::from_json(const nlohmann::json& json) {
  NafnetArchitecture arch;
  try {
    if (json.contains("image_channels")) {
      arch.image_channels = json_int(json["image_channels"], "image_channels");
    }
    arch.width = json_int(json.at("width"), "width");
    arch.encoder_blocks = json_ints(json.at("encoder_blocks"), "encoder_blocks");
    arch.middle_blocks = json_int(json.at("middle_blocks"), "middle_blocks");
    arch.decoder_blocks = json_ints(json.at("decoder_blocks"), "decoder_blocks");
    if (json.contains("genotype") && !json["genotype"].is_null()) {
      for (const auto& id : json["genotype"])
        arch.genotype.push_back(parse_alternative(id.get<std::string>()));
    }
  } catch (const nlohmann::json::exception& error) {
    throw std::invalid_argument(std::string("architecture: ") + error.what());
  }
  arch.validate();
  return arch;
}

bool NafnetArchitecture::operator==(const NafnetArchitecture& other) const {
  return image_channels == other.image_channels && width == other.width &&
         encoder_blocks == other.encoder_blocks && middle_blocks == other.middle_blocks &&
         decoder_blocks == other.decoder_blocks && genotype == other.genotype;
}

std::vector<int> parse_block_list(const std::string& text, const std::string& what) {
  std::vector<int> values;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size()) {
      throw std::invalid_argument(what + ": expected comma-separated integers like 2,2,4,8, got '" +
                                  text + "'");
    }
    values.push_back(value);
  }
  if (values.empty()) throw std::invalid_argument(what + ": empty block list");
  return values;
}

}  // namespace ern
