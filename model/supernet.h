#pragma once
// The searchable supernet: a NAFNet skeleton whose encoder/decoder blocks each output a weighted
// mix of their alternatives, Σ_j p_j · alternative_j(x), with p = softmax(α/τ) (or Gumbel-softmax
// at a temperature). All alternatives of a block share the full NAF block's weights, so the
// supernet costs one NAFNet of parameters plus α, and a derived child inherits its weights by name.

#include <torch/torch.h>

#include <vector>

#include "model/nafnet.h"

namespace ern {

class SupernetImpl : public torch::nn::Module {
 public:
  // `skeleton` must have no genotype; `alternatives` is the per-job choice set (no duplicates).
  SupernetImpl(const NafnetArchitecture& skeleton, std::vector<BlockAlternative> alternatives);

  torch::Tensor forward(const torch::Tensor& x);

  // Gumbel-softmax samples at `temperature` for the next forward passes in training mode (gumbel
  // true; evaluation mode uses softmax(α)), or the softmax at that temperature, softmax(α/τ), in
  // both modes (gumbel false).
  void set_sampling(bool gumbel, double temperature);
  // Fixes the `count` most certain blocks (largest max p) to their argmax: their mix becomes
  // one-hot and α gets no gradient from them. Chosen from α alone, so a resumed search fixes the
  // same blocks. 0: none.
  void set_decided(int64_t count);

  Nafnet& network() { return network_; }
  const std::vector<BlockAlternative>& alternatives() const { return alternatives_; }
  size_t block_count() const { return static_cast<size_t>(alphas_.size(0)); }

  torch::Tensor alphas() { return alphas_; }  // [blocks, alternatives]
  // The architecture distribution, differentiable: softmax(α/τ) (plain), softmax(α) (Gumbel).
  torch::Tensor probabilities() const;
  std::vector<torch::Tensor> weight_parameters();         // everything but α
  std::vector<BlockAlternative> derive_genotype() const;  // argmax per block

 private:
  Nafnet network_{nullptr};
  std::vector<BlockAlternative> alternatives_;
  torch::Tensor alphas_;
  torch::Tensor mixing_;  // the weights of the forward pass in progress
  bool gumbel_ = false;
  double temperature_ = 1.0;
  int64_t decided_ = 0;

  torch::Tensor with_decisions(const torch::Tensor& mixing) const;
};
TORCH_MODULE(Supernet);

// Mean over blocks of H(p)/log K: 0 when every block has decided, 1 when all are uniform.
torch::Tensor mean_normalized_entropy(const torch::Tensor& probabilities);

// The child network of `genotype` with the supernet's weights for its chosen alternatives
// (network surgery: every tensor the child has is copied by name from the supernet).
Nafnet derive_child(Supernet& supernet, const std::vector<BlockAlternative>& genotype);

}  // namespace ern
