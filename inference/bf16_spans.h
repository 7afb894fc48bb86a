#pragma once
// The inner loops of the bf16 serving mode over spans of channels-last pixels, vectorized with
// AVX-512 BF16 (bfloat16 values stored as uint16_t). Only for CPUs where cpu_has_native_bf16();
// pixel_kernels.h spreads them over the cores.

#include <cstdint>

namespace ern::inference::bf16 {

// LayerNorm2d without its affine (folded into the next convolution): each pixel's `channels`
// fp32 values to mean 0 and variance 1, written as bf16.
void layer_norm(const float* x, uint16_t* out, int64_t pixels, int64_t channels, float epsilon);

// fp32 to bf16, rounded to nearest even.
void convert(const float* x, uint16_t* out, int64_t values);

// out[p, k] = in[p, k] * in[p, channels + k]; with `sums`, also sums[k] += out[p, k] (fp32).
void gate(const uint16_t* in, uint16_t* out, int64_t pixels, int64_t channels, float* sums);

// x[p, k] *= scales[k].
void scale(uint16_t* x, const float* scales, int64_t pixels, int64_t channels);

}  // namespace ern::inference::bf16
