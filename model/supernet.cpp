#include "model/supernet.h"

#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include "model/model_dir.h"

namespace ern {

SupernetImpl::SupernetImpl(const NafnetArchitecture& skeleton,
                           std::vector<BlockAlternative> alternatives)
    : alternatives_(std::move(alternatives)) {
  if (!skeleton.genotype.empty()) {
    throw std::invalid_argument("supernet: the skeleton must be a plain NAFNet (no genotype)");
  }
  if (alternatives_.empty()) throw std::invalid_argument("alternatives: at least one is needed");
  if (std::set<BlockAlternative>(alternatives_.begin(), alternatives_.end()).size() !=
      alternatives_.size()) {
    throw std::invalid_argument("alternatives: each may appear once");
  }
  network_ = register_module("network", Nafnet(skeleton));
  const int64_t blocks = static_cast<int64_t>(skeleton.searchable_blocks().size());
  alphas_ = register_parameter("alphas",
                               torch::zeros({blocks, static_cast<int64_t>(alternatives_.size())}));
  network_->set_block_runner([this](size_t index, NafBlockImpl& block, const torch::Tensor& x) {
    torch::Tensor mixed;
    for (size_t j = 0; j < alternatives_.size(); ++j) {
      auto term = mixing_[index][j] * block.forward_as(x, alternatives_[j]);
      mixed = mixed.defined() ? mixed + term : term;
    }
    return mixed;
  });
}

void SupernetImpl::set_sampling(bool gumbel, double temperature) {
  if (!(temperature > 0)) throw std::invalid_argument("temperature: must be > 0");
  gumbel_ = gumbel;
  temperature_ = temperature;
}

void SupernetImpl::set_decided(int64_t count) {
  if (count < 0 || count > static_cast<int64_t>(block_count())) {
    throw std::invalid_argument("decided blocks: must be in 0.." + std::to_string(block_count()));
  }
  decided_ = count;
}

torch::Tensor SupernetImpl::with_decisions(const torch::Tensor& mixing) const {
  if (decided_ == 0) return mixing;
  torch::Tensor decided_rows, one_hot;
  {
    torch::NoGradGuard no_grad;
    const auto plain = torch::softmax(alphas_, 1);
    const auto certainty = std::get<0>(plain.max(1));
    const auto most_certain = certainty.argsort(0, /*descending=*/true).slice(0, 0, decided_);
    decided_rows = torch::zeros({alphas_.size(0)}, torch::kBool).index_fill_(0, most_certain, true);
    one_hot = torch::one_hot(alphas_.argmax(1), alphas_.size(1)).to(mixing.scalar_type());
  }
  return torch::where(decided_rows.unsqueeze(1), one_hot, mixing);
}

torch::Tensor SupernetImpl::probabilities() const {
  return with_decisions(torch::softmax(gumbel_ ? alphas_ : alphas_ / temperature_, 1));
}

torch::Tensor SupernetImpl::forward(const torch::Tensor& x) {
  if (gumbel_ && is_training()) {
    // Gumbel-softmax: softmax((α + g) / τ), g = -log(-log(u)).
    auto uniform = torch::rand_like(alphas_).clamp(1e-10, 1.0 - 1e-10);
    mixing_ = with_decisions(
        torch::softmax((alphas_ - torch::log(-torch::log(uniform))) / temperature_, 1));
  } else {
    mixing_ = probabilities();
  }
  auto out = network_->forward(x);
  mixing_ = torch::Tensor();
  return out;
}

std::vector<torch::Tensor> SupernetImpl::weight_parameters() { return network_->parameters(); }

std::vector<BlockAlternative> SupernetImpl::derive_genotype() const {
  const auto best = alphas_.argmax(1);
  std::vector<BlockAlternative> genotype;
  for (int64_t i = 0; i < best.size(0); ++i)
    genotype.push_back(alternatives_[best[i].item<int64_t>()]);
  return genotype;
}

torch::Tensor mean_normalized_entropy(const torch::Tensor& probabilities) {
  const int64_t choices = probabilities.size(1);
  if (choices < 2) return torch::zeros({}, probabilities.options());
  auto entropy = -(probabilities * torch::log(probabilities.clamp_min(1e-12))).sum(1);
  return (entropy / std::log(static_cast<double>(choices))).mean();
}

Nafnet derive_child(Supernet& supernet, const std::vector<BlockAlternative>& genotype) {
  auto architecture = supernet->network()->architecture();
  architecture.genotype = genotype;
  architecture.validate();
  Nafnet child(architecture);
  load_named_tensors(
      *child,
      [&] {
        // The child holds a subset of the supernet's tensors: pick exactly those.
        std::map<std::string, torch::Tensor> parent;
        for (auto& [name, tensor] : named_tensors_of(*supernet->network())) parent[name] = tensor;
        NamedTensors chosen;
        for (auto& [name, tensor] : named_tensors_of(*child))
          chosen.emplace_back(name, parent.at(name));
        return chosen;
      }(),
      "supernet");
  return child;
}

}  // namespace ern
