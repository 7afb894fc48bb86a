#include "inference/fp32_spans.h"

#include <immintrin.h>

#include "inference/avx512_dispatch.h"

namespace ern::inference::fp32 {
namespace {

ERN_AVX512_TARGET inline void add(float* target, __m512 values) {
  _mm512_storeu_ps(target, _mm512_add_ps(_mm512_loadu_ps(target), values));
}

// 16 channels of a pixel at a time: its 64 values hold the 4 outputs of each channel side by
// side; two two-source permutations and two quarter shuffles per output pair take them apart.
ERN_AVX512_TARGET void shuffle_add_row_avx512(const float* in, float* top, float* bottom,
                                              int64_t width, int64_t channels) {
  // From 32 consecutive values (8 channels x 4 outputs): outputs 0 and 1 (or 2 and 3) of the 8
  // channels, the first output in the low half.
  const __m512i first_pair =
      _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
  const __m512i second_pair = _mm512_add_epi32(first_pair, _mm512_set1_epi32(2));
  for (int64_t w = 0; w < width; ++w, in += 4 * channels) {
    float* targets[4] = {top + 2 * w * channels, top + (2 * w + 1) * channels,
                         bottom + 2 * w * channels, bottom + (2 * w + 1) * channels};
    for (int64_t k = 0; k < channels; k += kAvx512Lanes) {
      const float* values = in + 4 * k;
      const __m512 v0 = _mm512_loadu_ps(values), v1 = _mm512_loadu_ps(values + 16);
      const __m512 v2 = _mm512_loadu_ps(values + 32), v3 = _mm512_loadu_ps(values + 48);
      const __m512 low01 = _mm512_permutex2var_ps(v0, first_pair, v1);
      const __m512 high01 = _mm512_permutex2var_ps(v2, first_pair, v3);
      const __m512 low23 = _mm512_permutex2var_ps(v0, second_pair, v1);
      const __m512 high23 = _mm512_permutex2var_ps(v2, second_pair, v3);
      add(targets[0] + k, _mm512_shuffle_f32x4(low01, high01, _MM_SHUFFLE(1, 0, 1, 0)));
      add(targets[1] + k, _mm512_shuffle_f32x4(low01, high01, _MM_SHUFFLE(3, 2, 3, 2)));
      add(targets[2] + k, _mm512_shuffle_f32x4(low23, high23, _MM_SHUFFLE(1, 0, 1, 0)));
      add(targets[3] + k, _mm512_shuffle_f32x4(low23, high23, _MM_SHUFFLE(3, 2, 3, 2)));
    }
  }
}

}  // namespace

void shuffle_add_row(const float* in, float* top, float* bottom, int64_t width, int64_t channels) {
  if (cpu_has_avx512() && channels % kAvx512Lanes == 0) {
    return shuffle_add_row_avx512(in, top, bottom, width, channels);
  }
  for (int64_t w = 0; w < width; ++w, in += 4 * channels) {
    for (int64_t i = 0; i < 2; ++i) {
      for (int64_t j = 0; j < 2; ++j) {
        float* target = (i == 0 ? top : bottom) + (2 * w + j) * channels;
        const float* shuffled = in + 2 * i + j;
        for (int64_t k = 0; k < channels; ++k) target[k] += shuffled[4 * k];
      }
    }
  }
}

}  // namespace ern::inference::fp32
