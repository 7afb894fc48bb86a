#pragma once
// The pointwise second half of an fp32 or int8 block, after its attention gate g:
//   x += conv3(g); n = LN(x); x += conv5(conv4a(n) * conv4b(n))
// run in tiles of pixels, each tile on one core from start to end. Run step by step over a whole
// image, each of those five steps streams its activations through memory once (they outgrow the
// caches from kUntiledActivationBytes up, tiling.h); a tile's intermediates stay in its core's
// cache. The primitives are made for one thread each: the cores split the tiles, not each step.

#include <optional>

#include "inference/dnnl_convolution.h"
#include "inference/layer_norm_rows.h"

namespace ern::inference {

struct BlockParameters;  // fused_block.h

// The types of the tail's convolutions as the block's plan chose them (fp32 by default); int8 also
// quantizes conv3's and conv4's inputs in its tiles.
struct TailPrecision {
  ConvTypes project, feed_gate, feed, feed_out;
  float feed_input_step = 0.0f;  // int8: the step of conv4's int8 input; 0 in fp32
};

class TiledBlockTail {
 public:
  // Whether tiles pay off for `pixels` pixels of `channels` channels: the activations outgrow the
  // caches, and there are tiles enough for every core.
  static bool suits(int64_t pixels, int64_t channels);

  // `pixels`: how many pixels each run covers (all images' or, where the block has channel
  // attention, one image's), `channels` wide.
  TiledBlockTail(const BlockParameters& block, int64_t pixels, int64_t channels,
                 const TailPrecision& precision = {});

  // The scratch each thread needs, in bytes.
  size_t thread_bytes() const { return thread_bytes_; }

  // Replaces conv3's weights (a channel attention scale folded in, per image).
  void set_projection_weights(dnnl::stream& stream, const torch::Tensor& weight);

  // x and gated: `pixels` x `channels` channels-last; scratch: thread_bytes() per thread of
  // at::get_num_threads(). int8: conv3 reads g times `projection_factors` (per channel: the
  // attention scale over the step of conv3's input) in int8.
  void run(const float* gated, float* x, void* scratch,
           const float* projection_factors = nullptr) const;

 private:
  // The primitives of one tile size.
  struct TileSteps {
    TileSteps(const BlockParameters& block, int64_t pixels, int64_t channels,
              const TailPrecision& precision);
    size_t scratchpad_bytes() const;
    // One tile: buffers of the tile's size in `normalized`, `gate` and `product`.
    void run(dnnl::stream& stream, const float* gated, float* x, void* normalized, float* gate,
             void* product, void* scratchpad, const float* projection_factors) const;

    int64_t pixels, channels;
    bool quantized;  // int8: conv3 and conv4 read int8 inputs
    NormalizedRows feed_input;
    Convolution project, feed_gate, feed, feed_out;
  };

  int64_t pixels_, channels_, tile_pixels_;
  std::optional<TileSteps> whole_;      // tile_pixels_ wide
  std::optional<TileSteps> remainder_;  // the last tile, where it is narrower
  size_t thread_bytes_ = 0;
};

}  // namespace ern::inference
