#pragma once
// NAFNet (Chen et al., "Simple Baselines for Image Restoration") with the reference
// implementation's module tree, so parameter names equal the released state-dict keys
// (`encoders.0.1.conv1.weight`, `ups.2.0.weight`, `middle_blks.3.sca.1.bias`, ...).

#include <torch/torch.h>

#include "model/architecture.h"

namespace ern {

// Normalizes over channels at each pixel (not over the spatial extent), eps 1e-6.
class LayerNorm2dImpl : public torch::nn::Module {
 public:
  explicit LayerNorm2dImpl(int64_t channels, double eps = 1e-6);
  torch::Tensor forward(const torch::Tensor& x);
  // The normalization alone, without the affine (one fused kernel on channels-last input).
  torch::Tensor normalize(const torch::Tensor& x) const;
  torch::Tensor& weight() { return weight_; }
  torch::Tensor& bias() { return bias_; }

 private:
  torch::Tensor weight_;
  torch::Tensor bias_;
  double eps_;
};
TORCH_MODULE(LayerNorm2d);

// A NAF block, or one of its lighter alternatives (the parts it drops are not created, so a
// derived network holds exactly the chosen alternative's parameters).
class NafBlockImpl : public torch::nn::Module {
 public:
  explicit NafBlockImpl(int64_t channels, BlockAlternative alternative = BlockAlternative::kNaf);
  torch::Tensor forward(const torch::Tensor& input);
  // Runs as `alternative` with this block's weights; the block must hold every part it needs
  // (a full `naf` block can run as any alternative: that is how the supernet shares weights).
  torch::Tensor forward_as(const torch::Tensor& input, BlockAlternative alternative);

  // For serving: folds the LayerNorm affines into conv1/conv4 and beta/gamma into conv3/conv5, so
  // the forward pass makes fewer passes over the activations with the same result (to float
  // rounding). A folded block runs only as its own alternative and is not for training.
  void fold_constants();

 private:
  torch::Tensor folded_forward(const torch::Tensor& input);

  LayerNorm2d norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  torch::nn::Conv2d conv4_{nullptr}, conv5_{nullptr};
  torch::nn::Conv2d sca_conv_{nullptr};  // registered as `sca.1`, after an (unnamed) global pool
  torch::Tensor beta_, gamma_;
  BlockAlternative alternative_;
  bool folded_ = false;
};
TORCH_MODULE(NafBlock);

class NafnetImpl : public torch::nn::Module {
 public:
  // Runs searchable block `index` (genotype order) on its input; see set_block_runner.
  using BlockRunner =
      std::function<torch::Tensor(size_t index, NafBlockImpl& block, const torch::Tensor& input)>;

  explicit NafnetImpl(const NafnetArchitecture& architecture);
  // x: [B, C, H, W] in [0, 1]; any H, W (padded internally, cropped back).
  torch::Tensor forward(const torch::Tensor& x);
  const NafnetArchitecture& architecture() const { return architecture_; }

  // Lets a supernet run the encoder/decoder blocks its own way (a weighted mix of alternatives)
  // while sharing this skeleton; an empty runner restores the plain forward pass.
  void set_block_runner(BlockRunner runner) { block_runner_ = std::move(runner); }

  // For serving (irreversible): eval mode, constants folded in every block, weights and
  // activations channels-last (outputs too: their strides are channels-last). Outputs equal the
  // plain network's to float rounding.
  void prepare_for_inference();

 private:
  NafnetArchitecture architecture_;
  torch::nn::Conv2d intro_{nullptr}, ending_{nullptr};
  // Searchable blocks in genotype order, per stage; a `skip` block is a null NafBlock.
  std::vector<std::vector<NafBlock>> encoders_, decoders_;
  std::vector<NafBlock> middle_;
  BlockRunner block_runner_;
  bool channels_last_ = false;

  // Runs one stage of searchable blocks; `index` counts searchable blocks across stages.
  torch::Tensor run_searchable(std::vector<NafBlock>& stage, size_t& index, torch::Tensor x);
  std::vector<torch::nn::Conv2d> downs_, ups_;
};
TORCH_MODULE(Nafnet);

// Sum of the elements of every parameter.
int64_t count_parameters(torch::nn::Module& module);

}  // namespace ern
