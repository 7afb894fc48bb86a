#pragma once
// One NAF block (or a lighter alternative) of a folded network as a sequence of oneDNN primitives
// and pixel kernels for one activation shape, updating its input in place:
//   n = LN(x); t = dwconv(conv1(n)); g = gate(t) (+ the pool, in the same pass);
//   x += conv3(g * sca(pool))       (the scale folded into conv3's weights per image, or onto g);
//   n = LN(x); g = conv4a(n) * conv4b(n) (the gate as conv4a's post-op); x += conv5(g)
// (the residuals are sum post-ops; conv4a and conv4b are conv4's two halves of outputs).
// LayerNorm affines and beta/gamma are already folded into the convolutions (fold_constants).
// In bf16 x stays fp32; n, t and g are bf16 (LayerNorm by bf16_spans.h, since oneDNN 2.6's
// writes its source's type), and conv3 and conv5 accumulate into x in fp32.

#include <memory>
#include <optional>

#include "inference/dnnl_convolution.h"
#include "inference/precision.h"

namespace ern::inference {

struct BlockParameters {
  bool layer_norm = true;
  bool channel_attention = true;
  ConvParameters conv1, conv2, conv3, conv5;
  ConvParameters conv4a, conv4b;   // conv4's first and second halves of output channels
  torch::Tensor attention_weight;  // [c, c]: the channel attention's 1x1 convolution
  torch::Tensor attention_bias;    // [c]
};

// Buffers a plan's steps share, each large enough for the largest activation of the network in
// fp32; the first four hold bf16 values in the bf16 mode.
struct Scratch {
  void* normalized;  // c channels
  void* pointwise;   // 2c channels
  void* expanded;    // 2c channels
  void* gated;       // c channels
  float* means;      // [images, c]
  void* scratchpad;  // oneDNN's
};

class BlockPlan {
 public:
  // dims: {images, channels, height, width} of the block's activations; `precision` as effective
  // on this CPU (effective_precision).
  BlockPlan(const BlockParameters& block, const dnnl::memory::dims& dims, Precision precision);
  size_t scratchpad_bytes() const;
  void run(dnnl::stream& stream, float* x, const Scratch& scratch);

 private:
  const void* normalize(dnnl::stream& stream, const float* x, const Scratch& scratch);
  void gate(const Scratch& scratch);
  void scale_gated(const Scratch& scratch, const torch::Tensor& scales);
  void* gated_image(const Scratch& scratch, int64_t image) const;
  void feed_forward(dnnl::stream& stream, float* x, const Scratch& scratch);

  const BlockParameters& block_;
  dnnl::memory::dims dims_;
  bool bf16_;
  std::optional<dnnl::layer_normalization_forward> layer_norm_;
  dnnl::layer_normalization_forward::primitive_desc layer_norm_pd_;
  // The attention scale goes into conv3's weights (c^2 values per image) where an image has at
  // least as many pixels as channels, else onto the gated activations (fewer values).
  bool scale_weights_;
  Convolution pointwise_;  // conv1
  Convolution depthwise_;  // conv2
  Convolution project_;    // conv3, accumulated into x (per image with channel attention)
  Convolution feed_gate_;  // conv4b
  Convolution feed_;       // conv4a, times conv4b's output
  Convolution feed_out_;   // conv5, accumulated into x
};

}  // namespace ern::inference
