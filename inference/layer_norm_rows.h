#pragma once
// LayerNorm2d's normalization without its affine (folded into the next convolution) as a oneDNN
// primitive: channels-last pixels are a [pixels, channels] matrix normalized row by row; and
// the input a tiled block's 1x1 convolution reads, normalized and quantized as its precision
// asks.

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <optional>

namespace ern::inference {

inline constexpr float kLayerNormEpsilon = 1e-6f;  // LayerNorm2d's

class LayerNormRows {
 public:
  LayerNormRows(int64_t pixels, int64_t channels);
  size_t scratchpad_bytes() const { return pd_.scratchpad_desc().get_size(); }
  void run(dnnl::stream& stream, const float* x, float* out, void* scratchpad) const;

 private:
  dnnl::layer_normalization_forward::primitive_desc pd_;
  dnnl::layer_normalization_forward primitive_;
};

// What a 1x1 convolution reads from `pixels` pixels of x: x normalized by LayerNorm (fp32), x in
// int8 steps of `int8_step` (LayerNorm first where the block has it), or x itself.
class NormalizedRows {
 public:
  NormalizedRows(int64_t pixels, int64_t channels, bool layer_norm, float int8_step);
  size_t scratchpad_bytes() const { return layer_norm_ ? layer_norm_->scratchpad_bytes() : 0; }
  // The convolution's input: `out` (pixels x channels values of its type) or x.
  const void* run(dnnl::stream& stream, const float* x, void* out, void* scratchpad) const;

 private:
  int64_t pixels_, channels_;
  bool has_layer_norm_;
  float int8_step_;                          // 0 in fp32
  std::optional<LayerNormRows> layer_norm_;  // fp32, where the block has one
};

}  // namespace ern::inference
