#include "model/block_alternatives.h"

#include <stdexcept>

namespace ern {
namespace {

constexpr AlternativeTraits kTraits[] = {
    {BlockAlternative::kNaf, "naf", true, true, false},
    {BlockAlternative::kNafNoNorm, "naf_nonorm", false, true, false},
    {BlockAlternative::kNafNoCa, "naf_noca", true, false, false},
    {BlockAlternative::kNafLite, "naf_lite", false, false, false},
    {BlockAlternative::kSkip, "skip", false, false, true},
};

}  // namespace

const AlternativeTraits& traits_of(BlockAlternative alternative) {
  return kTraits[static_cast<int>(alternative)];
}

std::string alternative_id(BlockAlternative alternative) { return traits_of(alternative).id; }

BlockAlternative parse_alternative(const std::string& id) {
  std::string known;
  for (const auto& traits : kTraits) {
    if (id == traits.id) return traits.alternative;
    known += (known.empty() ? "" : ", ") + std::string(traits.id);
  }
  throw std::invalid_argument("unknown block alternative '" + id + "' (known: " + known + ")");
}

std::vector<BlockAlternative> all_alternatives() {
  std::vector<BlockAlternative> out;
  for (const auto& traits : kTraits) out.push_back(traits.alternative);
  return out;
}

long long block_parameter_count(BlockAlternative alternative, long long c) {
  const auto& traits = traits_of(alternative);
  if (traits.identity) return 0;
  long long count = 7 * c * c + 33 * c;               // the full block
  if (!traits.layer_norm) count -= 4 * c;             // two LayerNorms, weight and bias each
  if (!traits.channel_attention) count -= c * c + c;  // the 1x1 attention convolution
  return count;
}

}  // namespace ern
