#pragma once
// The hardware-friendly alternatives each searchable (encoder or decoder) block may take. LayerNorm
// is the costliest operation of a NAF block on mobile devices and channel attention the next, so
// the alternatives drop one, the other, both, or the whole block.

#include <string>
#include <vector>

namespace ern {

enum class BlockAlternative {
  kNaf,        // the full NAF block
  kNafNoNorm,  // without its two LayerNorms
  kNafNoCa,    // without simplified channel attention
  kNafLite,    // without either
  kSkip,       // identity
};

struct AlternativeTraits {
  BlockAlternative alternative;
  const char* id;
  bool layer_norm;
  bool channel_attention;
  bool identity;
};

const AlternativeTraits& traits_of(BlockAlternative alternative);
std::string alternative_id(BlockAlternative alternative);

// Throws std::invalid_argument naming the unknown id and listing the known ones.
BlockAlternative parse_alternative(const std::string& id);

std::vector<BlockAlternative> all_alternatives();

// Parameters of one block of `channels` channels taking this alternative.
long long block_parameter_count(BlockAlternative alternative, long long channels);

}  // namespace ern
