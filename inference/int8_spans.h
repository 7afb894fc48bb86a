#pragma once
// The inner loops of the int8 serving mode over spans of channels-last pixels: fp32 to int8
// steps, rounded to nearest even and saturated to [-127, 127]; vectorized with AVX-512 where the
// CPU has it, portable loops elsewhere. pixel_kernels.h spreads them over the cores.

#include <cstdint>

namespace ern::inference::int8 {

// LayerNorm2d without its affine (folded into the next convolution) of each pixel's `channels`
// values, times `inverse_step`; without `layer_norm`, only the product.
void normalize(const float* x, int8_t* out, int64_t pixels, int64_t channels, bool layer_norm,
               float epsilon, float inverse_step);

// out[p, k] = in[p, k] * factors[k].
void scale(const float* in, int8_t* out, const float* factors, int64_t pixels, int64_t channels);

}  // namespace ern::inference::int8
