#pragma once
// fp32 inner loops of the fused engine over spans of channels-last pixels, vectorized with AVX-512
// where the CPU has it, portable loops elsewhere. pixel_kernels.h spreads them over the cores.

#include <cstdint>

namespace ern::inference::fp32 {

inline constexpr int64_t kMaxNarrowOutputs = 4;

// One output row of a 3x3 convolution to 1 .. kMaxNarrowOutputs channels, added into `out` ([width,
// outputs]): out[x, o] += bias[o] + sum over ky, kx, c of weights[ky][kx][o][c] *
// rows[ky][x + kx - 1, c], where rows[ky] ([width, channels]) is null outside the image and
// columns outside it count as zeros. `weights` holds `padded_channels` (a multiple of 16) values
// per output and tap, zeros past `channels`. AVX-512 only: call it where cpu_has_avx512().
void narrow_conv3x3_row(const float* const rows[3], const float* weights, const float* bias,
                        float* out, int64_t width, int64_t channels, int64_t padded_channels,
                        int64_t outputs);

// One output row of a 3x3 depth-wise convolution over 2 * channels channels followed by
// SimpleGate: out[x, k] = t[x, k] * t[x, channels + k] ([width, channels]) where t[x, j] =
// bias[j] + sum over ky, kx of weights[ky * 3 + kx][j] * rows[ky][x + kx - 1, j]; rows[ky]
// ([width, 2 * channels]) is null outside the image and columns outside it count as zeros. With
// `sums`, also sums[k] += out[x, k] over the row (the channel attention's pool).
void depthwise_gate_row(const float* const rows[3], const float* weights, const float* bias,
                        float* out, float* sums, int64_t width, int64_t channels);

// One row of PixelShuffle(2) added into the two rows it becomes: for each of `width` pixels of
// `in` (4 * channels values each), top[2w + j, k] += in[w, 4k + j] and
// bottom[2w + j, k] += in[w, 4k + 2 + j].
void shuffle_add_row(const float* in, float* top, float* bottom, int64_t width, int64_t channels);

}  // namespace ern::inference::fp32
