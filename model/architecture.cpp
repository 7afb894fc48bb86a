#include "model/architecture.h"

#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace ern {
namespace {

constexpr int kMaxWidth = 1024;
constexpr int kMaxBlocksPerStage = 64;
constexpr int kMaxStages = 6;

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

std::int64_t naf_block_parameters(std::int64_t c) { return 7 * c * c + 33 * c; }

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
  if (middle_blocks < 0 || middle_blocks > kMaxBlocksPerStage) {
    throw std::invalid_argument("middle_blocks: must be in 0.." +
                                std::to_string(kMaxBlocksPerStage) + ", got " +
                                std::to_string(middle_blocks));
  }
}

std::int64_t NafnetArchitecture::expected_parameter_count() const {
  const std::int64_t img = image_channels;
  std::int64_t c = width;
  // intro and ending: 3x3 convolutions with bias.
  std::int64_t total = (img * c * 9 + c) + (c * img * 9 + img);
  for (int blocks : encoder_blocks) {
    total += blocks * naf_block_parameters(c);
    total += (c * 2 * c * 4) + 2 * c;  // 2x2 stride-2 down convolution with bias
    c *= 2;
  }
  total += middle_blocks * naf_block_parameters(c);
  for (int blocks : decoder_blocks) {
    total += c * 2 * c;  // 1x1 up convolution without bias, then PixelShuffle(2)
    c /= 2;
    total += blocks * naf_block_parameters(c);
  }
  return total;
}

std::string NafnetArchitecture::describe() const {
  return "width " + std::to_string(width) + ", (" + join(encoder_blocks, "-") + ")-" +
         std::to_string(middle_blocks) + "-(" + join(decoder_blocks, "-") + ")";
}

nlohmann::json NafnetArchitecture::to_json() const {
  return {{"family", "nafnet"},
          {"image_channels", image_channels},
          {"width", width},
          {"encoder_blocks", encoder_blocks},
          {"middle_blocks", middle_blocks},
          {"decoder_blocks", decoder_blocks}};
}

NafnetArchitecture NafnetArchitecture::from_json(const nlohmann::json& json) {
  NafnetArchitecture arch;
  try {
    arch.image_channels = json.value("image_channels", 3);
    arch.width = json.at("width").get<int>();
    arch.encoder_blocks = json.at("encoder_blocks").get<std::vector<int>>();
    arch.middle_blocks = json.at("middle_blocks").get<int>();
    arch.decoder_blocks = json.at("decoder_blocks").get<std::vector<int>>();
  } catch (const nlohmann::json::exception& error) {
    throw std::invalid_argument(std::string("architecture: ") + error.what());
  }
  arch.validate();
  return arch;
}

bool NafnetArchitecture::operator==(const NafnetArchitecture& other) const {
  return image_channels == other.image_channels && width == other.width &&
         encoder_blocks == other.encoder_blocks && middle_blocks == other.middle_blocks &&
         decoder_blocks == other.decoder_blocks;
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
