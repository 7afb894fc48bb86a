#pragma once
// The shape of a NAFNet-style U-Net, independent of any tensor library: what `model.json` records
// and what the CLI flags describe.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model/block_alternatives.h"

namespace ern {

// One encoder or decoder block: the blocks a search chooses alternatives for, in genotype order
// (encoder stages first, then decoder stages, each front to back).
struct SearchableBlock {
  std::string name;  // its module path, e.g. "encoders.1.0"
  int channels;
  int downscale;  // its input is the image size divided by this
};

struct NafnetArchitecture {
  int image_channels = 3;
  int width = 32;
  std::vector<int> encoder_blocks{2, 2, 4, 8};
  int middle_blocks = 12;
  std::vector<int> decoder_blocks{2, 2, 2, 2};
  // One alternative per searchable block; empty for plain NAFNet (every block `naf`).
  std::vector<BlockAlternative> genotype;

  // Throws std::invalid_argument naming the offending field and its allowed range.
  void validate() const;

  // Images are zero-padded right/bottom to a multiple of this before the first encoder.
  int size_multiple() const { return 1 << encoder_blocks.size(); }

  std::vector<SearchableBlock> searchable_blocks() const;
  // The alternative block `index` takes (naf when there is no genotype).
  BlockAlternative alternative_of(size_t index) const;

  // Closed-form parameter count (each NAF block holds 7c^2 + 33c parameters); the module's own
  // count must agree, which the tests check.
  std::int64_t expected_parameter_count() const;
  // Estimated fp32 values one training step keeps per input pixel for the backward pass (about
  // 24 c-sized tensors per block at its resolution), with `paths` alternatives computed per block
  // (a supernet); what bounds a spec's memory before anything is allocated.
  double activation_floats_per_pixel(int paths = 1) const;

  // e.g. "width 32, (2-2-4-8)-12-(2-2-2-2)"; derived networks add their genotype.
  std::string describe() const;

  nlohmann::json to_json() const;
  static NafnetArchitecture from_json(const nlohmann::json& json);

  bool operator==(const NafnetArchitecture& other) const;
};

// Parses "2,2,4,8" into {2,2,4,8}; throws std::invalid_argument naming `what` on bad input.
std::vector<int> parse_block_list(const std::string& text, const std::string& what);

}  // namespace ern
