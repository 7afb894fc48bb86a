#pragma once
// One NAF block (or a lighter alternative) of a folded network as a sequence of oneDNN primitives
// and pixel kernels for one activation shape, updating its input in place:
//   n = LN(x); t = dwconv(conv1(n)); g = gate(t) (+ the pool, in the same pass);
//   x += conv3(g * sca(pool))       (the scale folded into conv3's weights per image, or onto g);
//   n = LN(x); g = conv4a(n) * conv4b(n) (the gate as conv4a's post-op); x += conv5(g)
// (the residuals are sum post-ops; conv4a and conv4b are conv4's two halves of outputs).
// LayerNorm affines and beta/gamma are already folded into the convolutions (fold_constants).
// In bf16 x stays fp32; n, t and g are bf16 (LayerNorm by bf16_spans.h, since oneDNN 2.6's
// writes its source's type), and conv3 and conv5 accumulate into x in fp32. In int8 the inputs of
// conv1, conv3, conv4 and conv5 are int8 (LayerNorm and the attention scale each quantize in their
// pass; conv4a writes conv5's int8 input itself) and the other convolutions write fp32; the
// depth-wise conv2 stays fp32.

#include <memory>
#include <optional>

#include "inference/dnnl_convolution.h"
#include "inference/int8_calibration.h"
#include "inference/layer_norm_rows.h"
#include "inference/precision.h"
#include "inference/tiled_block_head.h"
#include "inference/tiled_block_tail.h"
#include "inference/tiling.h"

namespace ern::inference {

struct BlockParameters {
  std::string name;              // its parameters' prefix: "encoders.0.1", "middle_blks.0", ...
  ActivationRanges int8_ranges;  // int8: from the calibration
  bool layer_norm = true;
  bool channel_attention = true;
  ConvParameters conv1, conv2, conv3, conv5;
  ConvParameters conv4a, conv4b;   // conv4's first and second halves of output channels
  torch::Tensor attention_weight;  // [c, c]: the channel attention's 1x1 convolution
  torch::Tensor attention_bias;    // [c]
};

// Buffers a plan's steps share, each large enough for the largest activation of the network in
// fp32; the first four hold bf16 values in the bf16 mode, `normalized` and `pointwise` int8 ones
// in the int8 mode.
struct Scratch {
  void* normalized;  // c channels
  void* pointwise;   // 2c channels
  void* expanded;    // 2c channels
  void* gated;       // c channels
  float* means;      // [images, c]
  void* scratchpad;  // oneDNN's
  void* tiles;       // BlockPlan::tile_bytes() for each of at::get_num_threads()
};

// int8: moves each channel's quantization step of conv3's and conv5's inputs into their weights
// (their inputs are then quantized in steps of 1); throws std::invalid_argument when the ranges do
// not match the block's width.
void equalize_int8_inputs(BlockParameters& block);

class BlockPlan {
 public:
  // dims: {images, channels, height, width} of the block's activations; `precision` as effective
  // on this CPU (effective_precision); `tiling` whether strips and tiles may run.
  BlockPlan(const BlockParameters& block, const dnnl::memory::dims& dims, Precision precision,
            Tiling tiling);
  size_t scratchpad_bytes() const;
  // Each thread's scratch for the block's strips and tiles, if it has them (else 0).
  size_t tile_bytes() const {
    return std::max(head_ ? head_->thread_bytes() : 0, tail_ ? tail_->thread_bytes() : 0);
  }
  const std::string& name() const { return block_.name; }
  // With `observed` (fp32 only), also widens it to the ranges of the int8 mode's inputs.
  void run(dnnl::stream& stream, float* x, const Scratch& scratch,
           ActivationRanges* observed = nullptr);

 private:
  // LayerNorm of x (none in a block without it) as the next convolutions read it; int8 in steps of
  // int8_step(range).
  const void* normalize(dnnl::stream& stream, const float* x, const Scratch& scratch, float range);
  // n = LN(x), t = conv2(conv1(n)), g = gate(t) and its pool step by step over the whole batch.
  void expand_and_gate(dnnl::stream& stream, const float* x, const Scratch& scratch,
                       ActivationRanges* observed);
  void gate(const Scratch& scratch);
  void scale_gated(const Scratch& scratch, const torch::Tensor& scales);
  // int8: the gated values (times `scales`, [images, c], when given) into `target`, in steps of
  // 1 / inverse_steps[k] per channel.
  const void* quantize_gated(const Scratch& scratch, const float* scales,
                             const std::vector<float>& inverse_steps, void* target) const;
  void* gated_image(const Scratch& scratch, int64_t image) const;
  void feed_forward(dnnl::stream& stream, float* x, const Scratch& scratch,
                    ActivationRanges* observed);
  // fp32: conv3's weight with image `image`'s attention scale (`scales`, [images, c]) folded in.
  torch::Tensor scaled_projection_weight(const torch::Tensor& scales, int64_t image) const;
  // conv3 and the feed-forward half by tail_, image by image where `scales` ([images, c]) are
  // given.
  void run_tail(dnnl::stream& stream, float* x, const Scratch& scratch,
                const torch::Tensor& scales);

  const BlockParameters& block_;
  dnnl::memory::dims dims_;
  bool bf16_, int8_;
  std::optional<LayerNormRows> layer_norm_;  // fp32
  // The attention scale goes into conv3's weights (c^2 values per image) where an image has at
  // least as many pixels as channels, else onto the gated activations (fewer values).
  bool scale_weights_;
  Convolution pointwise_;  // conv1
  Convolution depthwise_;  // conv2
  Convolution project_;    // conv3, accumulated into x (per image with channel attention)
  Convolution feed_gate_;  // conv4b
  Convolution feed_;       // conv4a, times conv4b's output
  Convolution feed_out_;   // conv5, accumulated into x
  // fp32 and int8, where the activations outgrow the caches: the steps up to the gate in strips
  // of rows, conv3 and the feed-forward half in tiles of pixels (calibration runs step by step,
  // observing each step's whole output).
  std::optional<TiledBlockHead> head_;
  std::optional<TiledBlockTail> tail_;
  std::vector<float> projection_inverse_steps_;  // int8: conv3's input steps, per channel
};

}  // namespace ern::inference
