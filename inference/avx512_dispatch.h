#pragma once
// What the spans files share to run AVX-512 where the CPU has it: the fp32 and int8 vectorized
// forms are compiled for AVX-512 whatever the rest of the build targets (ERN_AVX512_TARGET) and
// called only where cpu_has_avx512(), elsewhere their portable forms run; the bf16 ones need more
// (bf16_spans.cpp).

#include <immintrin.h>

#include <cmath>
#include <cstdint>

#define ERN_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

namespace ern::inference {

inline constexpr int64_t kAvx512Lanes = 16;  // floats in one vector

// Whether the CPU has AVX-512 F, BW and VL.
inline bool cpu_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vl");
  return has;
}

// The mask of the lanes a vector holds when `remaining` values are left.
ERN_AVX512_TARGET inline __mmask16 lanes_left(int64_t remaining) {
  return remaining >= kAvx512Lanes ? static_cast<__mmask16>(0xFFFF)
                                   : static_cast<__mmask16>((1u << remaining) - 1);
}

// LayerNorm's statistics of one pixel's `channels` values: their mean (in every lane) and
// 1 / sqrt(variance + epsilon). Two passes over a row that stays in cache: the variance of the
// centred values is exact where a one-pass E[x^2] - E[x]^2 cancels.
struct RowMoments {
  __m512 mean;
  float inverse_deviation;
};
ERN_AVX512_TARGET inline RowMoments row_moments(const float* x, int64_t channels, float epsilon) {
  __m512 sum = _mm512_setzero_ps();
  for (int64_t k = 0; k < channels; k += kAvx512Lanes) {
    sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(lanes_left(channels - k), x + k));
  }
  const __m512 mean = _mm512_set1_ps(_mm512_reduce_add_ps(sum) / static_cast<float>(channels));
  __m512 squares = _mm512_setzero_ps();
  for (int64_t k = 0; k < channels; k += kAvx512Lanes) {
    const auto mask = lanes_left(channels - k);
    const __m512 centred = _mm512_maskz_sub_ps(mask, _mm512_maskz_loadu_ps(mask, x + k), mean);
    squares = _mm512_fmadd_ps(centred, centred, squares);
  }
  const float variance = _mm512_reduce_add_ps(squares) / static_cast<float>(channels);
  return {mean, 1.0f / std::sqrt(variance + epsilon)};
}

}  // namespace ern::inference
