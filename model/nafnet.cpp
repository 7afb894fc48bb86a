#include "model/nafnet.h"

#include "model/mac_counter.h"

namespace ern {
namespace {

namespace nn = torch::nn;

nn::Conv2d make_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                     int64_t groups = 1, bool bias = true) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel)
                        .stride(stride)
                        .padding(kernel == 3 ? 1 : 0)
                        .groups(groups)
                        .bias(bias));
}

// Splits channels in two halves and multiplies them.
torch::Tensor simple_gate(const torch::Tensor& x) {
  auto halves = x.chunk(2, 1);
  return halves[0] * halves[1];
}

// A run of blocks at one width: registered as a ModuleList (names "0", "1", ...) and kept typed in
// `typed` for the forward pass. `alternative(i)` gives block i's alternative; a skip block is an
// Identity in the list (keeping later blocks' names) and a null NafBlock in `typed`.
nn::ModuleList make_stage(int64_t channels, int blocks,
                          const std::function<BlockAlternative(int)>& alternative,
                          std::vector<NafBlock>& typed) {
  nn::ModuleList stage;
  for (int i = 0; i < blocks; ++i) {
    const auto chosen = alternative(i);
    if (traits_of(chosen).identity) {
      typed.push_back(NafBlock(nullptr));
      stage->push_back(nn::Identity());
    } else {
      typed.push_back(NafBlock(channels, chosen));
      stage->push_back(typed.back());
    }
  }
  return stage;
}

}  // namespace

LayerNorm2dImpl::LayerNorm2dImpl(int64_t channels, double eps) : eps_(eps) {
  weight_ = register_parameter("weight", torch::ones({channels}));
  bias_ = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor LayerNorm2dImpl::forward(const torch::Tensor& x) {
  auto mean = x.mean(1, /*keepdim=*/true);
  auto centered = x - mean;
  auto variance = centered.pow(2).mean(1, /*keepdim=*/true);
  auto normalized = centered / (variance + eps_).sqrt();
  return weight_.view({1, -1, 1, 1}) * normalized + bias_.view({1, -1, 1, 1});
}

torch::Tensor LayerNorm2dImpl::normalize(const torch::Tensor& x) const {
  // Channels last, [N, H, W, C] is a contiguous view, so layer_norm over C runs in one pass.
  const auto per_pixel = x.permute({0, 2, 3, 1});
  return torch::layer_norm(per_pixel, {x.size(1)}, {}, {}, eps_).permute({0, 3, 1, 2});
}

NafBlockImpl::NafBlockImpl(int64_t c, BlockAlternative alternative) : alternative_(alternative) {
  const auto& traits = traits_of(alternative);
  if (traits.identity) throw std::invalid_argument("a skip block has no NAF block module");
  const int64_t dw = 2 * c;   // depth-wise expansion 2
  const int64_t ffn = 2 * c;  // feed-forward expansion 2
  conv1_ = register_module("conv1", make_conv(c, dw, 1));
  conv2_ = register_module("conv2", make_conv(dw, dw, 3, 1, dw));
  conv3_ = register_module("conv3", make_conv(dw / 2, c, 1));
  if (traits.channel_attention) {
    sca_conv_ = make_conv(dw / 2, dw / 2, 1);
    register_module("sca", nn::Sequential(nn::AdaptiveAvgPool2d(1), sca_conv_));
  }
  conv4_ = register_module("conv4", make_conv(c, ffn, 1));
  conv5_ = register_module("conv5", make_conv(ffn / 2, c, 1));
  if (traits.layer_norm) {
    norm1_ = register_module("norm1", LayerNorm2d(c));
    norm2_ = register_module("norm2", LayerNorm2d(c));
  }
  beta_ = register_parameter("beta", torch::zeros({1, c, 1, 1}));
  gamma_ = register_parameter("gamma", torch::zeros({1, c, 1, 1}));
}

torch::Tensor NafBlockImpl::forward(const torch::Tensor& input) {
  return forward_as(input, alternative_);
}

torch::Tensor NafBlockImpl::forward_as(const torch::Tensor& input, BlockAlternative alternative) {
  const auto& traits = traits_of(alternative);
  if (traits.identity) return input;
  if (folded_) {
    if (alternative != alternative_) {
      throw std::logic_error("a folded block runs only as its own alternative");
    }
    return folded_forward(input);
  }
  auto x = traits.layer_norm ? norm1_->forward(input) : input;
  x = counted_conv(conv1_, x);
  x = counted_conv(conv2_, x);
  x = simple_gate(x);
  if (traits.channel_attention) {
    x = x * counted_conv(sca_conv_, torch::adaptive_avg_pool2d(x, {1, 1}));
  }
  x = counted_conv(conv3_, x);
  auto y = input + x * beta_;
  x = counted_conv(conv4_, traits.layer_norm ? norm2_->forward(y) : y);
  x = simple_gate(x);
  x = counted_conv(conv5_, x);
  return y + x * gamma_;
}

torch::Tensor NafBlockImpl::folded_forward(const torch::Tensor& input) {
  const bool layer_norm = traits_of(alternative_).layer_norm;
  auto x = counted_conv(conv1_, layer_norm ? norm1_->normalize(input) : input);
  x = simple_gate(counted_conv(conv2_, x));
  if (sca_conv_) x = x * counted_conv(sca_conv_, torch::adaptive_avg_pool2d(x, {1, 1}));
  const auto y = input + counted_conv(conv3_, x);
  x = simple_gate(counted_conv(conv4_, layer_norm ? norm2_->normalize(y) : y));
  return y + counted_conv(conv5_, x);
}

namespace {

// conv(weight ⊙ n + bias) == conv'(n): the affine moves into the 1x1 convolution that follows.
void fold_affine_into_next(LayerNorm2d& norm, torch::nn::Conv2d& conv) {
  auto& w = conv->weight;
  conv->bias.add_(w.flatten(1).matmul(norm->bias()));
  w.mul_(norm->weight().view({1, -1, 1, 1}));
  norm->weight().fill_(1.0);
  norm->bias().fill_(0.0);
}

// scale ⊙ conv(x) == conv'(x): a per-channel scale moves into the convolution before it.
void fold_scale_into_previous(torch::Tensor& scale, torch::nn::Conv2d& conv) {
  conv->weight.mul_(scale.view({-1, 1, 1, 1}));
  conv->bias.mul_(scale.view({-1}));
  scale.fill_(1.0);
}

}  // namespace

void NafBlockImpl::fold_constants() {
  if (folded_) return;
  torch::NoGradGuard no_grad;
  if (norm1_) {
    fold_affine_into_next(norm1_, conv1_);
    fold_affine_into_next(norm2_, conv4_);
  }
  fold_scale_into_previous(beta_, conv3_);
  fold_scale_into_previous(gamma_, conv5_);
  folded_ = true;
}

NafnetImpl::NafnetImpl(const NafnetArchitecture& architecture) : architecture_(architecture) {
  architecture_.validate();
  const int64_t img = architecture_.image_channels;
  int64_t c = architecture_.width;
  intro_ = register_module("intro", make_conv(img, c, 3));

  nn::ModuleList encoders, downs, ups, decoders, middle;
  size_t searchable = 0;  // genotype index of the next searchable block
  auto next_alternative = [&](int) { return architecture_.alternative_of(searchable++); };
  for (int blocks : architecture_.encoder_blocks) {
    encoders->push_back(make_stage(c, blocks, next_alternative, encoders_.emplace_back()));
    downs_.push_back(make_conv(c, 2 * c, 2, 2));
    downs->push_back(downs_.back());
    c *= 2;
  }
  middle = make_stage(
      c, architecture_.middle_blocks, [](int) { return BlockAlternative::kNaf; }, middle_);
  for (int blocks : architecture_.decoder_blocks) {
    ups_.push_back(make_conv(c, 2 * c, 1, 1, 1, /*bias=*/false));
    ups->push_back(nn::Sequential(ups_.back(), nn::PixelShuffle(2)));
    c /= 2;
    decoders->push_back(make_stage(c, blocks, next_alternative, decoders_.emplace_back()));
  }
  ending_ = register_module("ending", make_conv(architecture_.width, img, 3));
  register_module("encoders", encoders);
  register_module("decoders", decoders);
  register_module("middle_blks", middle);
  register_module("ups", ups);
  register_module("downs", downs);
}

torch::Tensor NafnetImpl::forward(const torch::Tensor& input) {
  const int64_t height = input.size(2), width = input.size(3);
  const int64_t multiple = architecture_.size_multiple();
  const int64_t pad_h = (multiple - height % multiple) % multiple;
  const int64_t pad_w = (multiple - width % multiple) % multiple;
  auto padded = (pad_h || pad_w) ? torch::constant_pad_nd(input, {0, pad_w, 0, pad_h}, 0) : input;
  padded = padded.contiguous(channels_last_ ? torch::MemoryFormat::ChannelsLast
                                            : torch::MemoryFormat::Contiguous);

  auto x = counted_conv(intro_, padded);
  std::vector<torch::Tensor> skips;
  size_t index = 0;
  for (size_t stage = 0; stage < encoders_.size(); ++stage) {
    x = run_searchable(encoders_[stage], index, x);
    skips.push_back(x);
    x = counted_conv(downs_[stage], x);
  }
  for (auto& block : middle_) x = block->forward(x);
  for (size_t stage = 0; stage < decoders_.size(); ++stage) {
    x = torch::pixel_shuffle(counted_conv(ups_[stage], x), 2);
    x = x + skips[skips.size() - 1 - stage];
    x = run_searchable(decoders_[stage], index, x);
  }
  x = counted_conv(ending_, x) + padded;
  return x.index({torch::indexing::Slice(), torch::indexing::Slice(),
                  torch::indexing::Slice(0, height), torch::indexing::Slice(0, width)});
}

void NafnetImpl::prepare_for_inference() {
  eval();
  torch::NoGradGuard no_grad;
  for (auto* stages : {&encoders_, &decoders_}) {
    for (auto& stage : *stages) {
      for (auto& block : stage) {
        if (block) block->fold_constants();
      }
    }
  }
  for (auto& block : middle_) block->fold_constants();
  for (auto& parameter : parameters()) {
    if (parameter.dim() == 4) {
      parameter.set_data(parameter.contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
  channels_last_ = true;
}

torch::Tensor NafnetImpl::run_searchable(std::vector<NafBlock>& stage, size_t& index,
                                         torch::Tensor x) {
  for (auto& block : stage) {
    if (block) {  // null: a skip block, the identity
      x = block_runner_ ? block_runner_(index, *block, x) : block->forward(x);
    }
    ++index;
  }
  return x;
}

int64_t count_parameters(torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& parameter : module.parameters()) total += parameter.numel();
  return total;
}

}  // namespace ern
