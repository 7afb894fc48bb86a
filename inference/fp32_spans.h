#pragma once
// fp32 inner loops of the fused engine over spans of channels-last pixels, vectorized with AVX-512
// where the CPU has it, portable loops elsewhere. pixel_kernels.h spreads them over the cores.

#include <cstdint>

namespace ern::inference::fp32 {

// One row of PixelShuffle(2) added into the two rows it becomes: for each of `width` pixels of
// `in` (4 * channels values each), top[2w + j, k] += in[w, 4k + j] and
// bottom[2w + j, k] += in[w, 4k + 2 + j].
void shuffle_add_row(const float* in, float* top, float* bottom, int64_t width, int64_t channels);

}  // namespace ern::inference::fp32
