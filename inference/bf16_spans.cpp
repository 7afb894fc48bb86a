#include "inference/bf16_spans.h"

#include <immintrin.h>

#include "inference/avx512_dispatch.h"

// Compiled for AVX-512 BF16 whatever the rest of the build targets: the engine calls these only
// after checking the CPU (precision.h).
#define ERN_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

namespace ern::inference::bf16 {
namespace {

ERN_BF16_TARGET inline __m512 load(const uint16_t* p, __mmask16 mask) {
  const __m256i halves = _mm256_maskz_loadu_epi16(mask, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves), 16));
}

ERN_BF16_TARGET inline void store(uint16_t* p, __m512 values, __mmask16 mask) {
  _mm256_mask_storeu_epi16(p, mask, reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(values)));
}

}  // namespace

ERN_BF16_TARGET void layer_norm(const float* x, uint16_t* out, int64_t pixels, int64_t channels,
                                float epsilon) {
  for (int64_t p = 0; p < pixels; ++p, x += channels, out += channels) {
    const auto moments = row_moments(x, channels, epsilon);
    const __m512 inverse = _mm512_set1_ps(moments.inverse_deviation);
    for (int64_t k = 0; k < channels; k += kAvx512Lanes) {
      const auto mask = lanes_left(channels - k);
      const __m512 centred = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + k), moments.mean);
      store(out + k, _mm512_mul_ps(centred, inverse), mask);
    }
  }
}

ERN_BF16_TARGET void convert(const float* x, uint16_t* out, int64_t values) {
  for (int64_t i = 0; i < values; i += kAvx512Lanes) {
    const auto mask = lanes_left(values - i);
    store(out + i, _mm512_maskz_loadu_ps(mask, x + i), mask);
  }
}

ERN_BF16_TARGET void gate(const uint16_t* in, uint16_t* out, int64_t pixels, int64_t channels,
                          float* sums) {
  for (int64_t p = 0; p < pixels; ++p, in += 2 * channels, out += channels) {
    for (int64_t k = 0; k < channels; k += kAvx512Lanes) {
      const auto mask = lanes_left(channels - k);
      const __m512 product = _mm512_mul_ps(load(in + k, mask), load(in + channels + k, mask));
      store(out + k, product, mask);
      if (sums) {
        _mm512_mask_storeu_ps(sums + k, mask,
                              _mm512_add_ps(_mm512_maskz_loadu_ps(mask, sums + k), product));
      }
    }
  }
}

ERN_BF16_TARGET void scale(uint16_t* x, const float* scales, int64_t pixels, int64_t channels) {
  for (int64_t p = 0; p < pixels; ++p, x += channels) {
    for (int64_t k = 0; k < channels; k += kAvx512Lanes) {
      const auto mask = lanes_left(channels - k);
      store(x + k, _mm512_mul_ps(load(x + k, mask), _mm512_maskz_loadu_ps(mask, scales + k)), mask);
    }
  }
}

}  // namespace ern::inference::bf16
