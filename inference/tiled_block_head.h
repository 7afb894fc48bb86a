#pragma once
// The first half of an fp32 or int8 block, up to its attention gate:
//   n = LN(x); t = conv2(conv1(n)); g = SimpleGate(t), and each image's mean of g (the pool)
// in strips of rows, each core walking a band of rows of its own. conv1's output rows stay in
// that core's cache until the depth-wise conv2 and the gate (one kernel, fp32_spans.h) have read
// them; of the four steps' activations only g goes back to memory. Each strip reuses the last two
// rows of conv1's output from the strip above; a band recomputes one row above its start.

#include <optional>
#include <vector>

#include "inference/dnnl_convolution.h"
#include "inference/layer_norm_rows.h"

namespace ern::inference {

struct BlockParameters;  // fused_block.h

// conv1's types as the block's plan chose them (fp32 by default); int8 also quantizes its input.
struct HeadPrecision {
  ConvTypes pointwise;
  float input_step = 0.0f;  // int8: the step of conv1's int8 input; 0 in fp32
};

class TiledBlockHead {
 public:
  // Whether strips pay off for one image of `height` x `width` pixels of `channels` channels.
  static bool suits(int64_t height, int64_t width, int64_t channels);

  TiledBlockHead(const BlockParameters& block, int64_t height, int64_t width, int64_t channels,
                 const HeadPrecision& precision = {});

  // The scratch each thread needs, in bytes.
  size_t thread_bytes() const { return thread_bytes_; }

  // One image: x and gated [height, width, channels] channels-last; `means` (null without channel
  // attention) gets the image's mean of each channel of g. scratch: thread_bytes() for each
  // thread of at::get_num_threads().
  void run(const float* x, float* gated, float* means, void* scratch) const;

 private:
  // LN (and int8's quantization) and conv1 over a number of whole rows.
  struct RowSteps {
    RowSteps(const BlockParameters& block, int64_t rows, int64_t width, int64_t channels,
             const HeadPrecision& precision);
    size_t scratchpad_bytes() const;
    void run(dnnl::stream& stream, const float* x, void* normalized, float* out,
             void* scratchpad) const;

    NormalizedRows input;
    Convolution pointwise;
  };
  // One thread's rows [first, last) of the image; `sums` gets their sums of g.
  void run_band(const float* x, float* gated, float* sums, int64_t first, int64_t last,
                char* scratch) const;

  int64_t height_, width_, channels_, strip_rows_;
  std::optional<RowSteps> strip_, one_row_;
  std::vector<float> depthwise_weights_;  // [tap][2 * channels]
  std::vector<float> depthwise_bias_;
  size_t normalized_bytes_ = 0, expanded_bytes_ = 0, sums_bytes_ = 0, thread_bytes_ = 0;
};

}  // namespace ern::inference
