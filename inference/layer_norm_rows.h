#pragma once
// LayerNorm2d's normalization without its affine (folded into the next convolution) as a oneDNN
// primitive: channels-last pixels are a [pixels, channels] matrix normalized row by row.

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>

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

}  // namespace ern::inference
