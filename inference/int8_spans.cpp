#include "inference/int8_spans.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "inference/avx512_dispatch.h"

namespace ern::inference::int8 {
namespace {

inline int8_t quantized(float value) {
  return static_cast<int8_t>(std::nearbyint(std::min(std::max(value, -127.0f), 127.0f)));
}

// Rounded to nearest even (the default rounding mode), saturated to [-127, 127] and stored.
ERN_AVX512_TARGET inline void store(int8_t* out, __m512 values, __mmask16 mask) {
  const __m512 clamped =
      _mm512_min_ps(_mm512_max_ps(values, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
  _mm_mask_storeu_epi8(out, mask, _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(clamped)));
}

ERN_AVX512_TARGET void normalize_avx512(const float* x, int8_t* out, int64_t pixels,
                                        int64_t channels, bool layer_norm, float epsilon,
                                        float inverse_step) {
  for (int64_t p = 0; p < pixels; ++p, x += channels, out += channels) {
    __m512 mean = _mm512_setzero_ps(), factor = _mm512_set1_ps(inverse_step);
    if (layer_norm) {
      const auto moments = row_moments(x, channels, epsilon);
      mean = moments.mean;
      factor = _mm512_set1_ps(inverse_step * moments.inverse_deviation);
    }
    for (int64_t k = 0; k < channels; k += kAvx512Lanes) {
      const auto mask = lanes_left(channels - k);
      const __m512 centred = _mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + k), mean);
      store(out + k, _mm512_mul_ps(centred, factor), mask);
    }
  }
}

ERN_AVX512_TARGET void scale_avx512(const float* in, int8_t* out, const float* factors,
                                    int64_t pixels, int64_t channels) {
  for (int64_t p = 0; p < pixels; ++p, in += channels, out += channels) {
    for (int64_t k = 0; k < channels; k += kAvx512Lanes) {
      const auto mask = lanes_left(channels - k);
      store(out + k,
            _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, in + k),
                          _mm512_maskz_loadu_ps(mask, factors + k)),
            mask);
    }
  }
}

}  // namespace

void normalize(const float* x, int8_t* out, int64_t pixels, int64_t channels, bool layer_norm,
               float epsilon, float inverse_step) {
  if (cpu_has_avx512()) {
    return normalize_avx512(x, out, pixels, channels, layer_norm, epsilon, inverse_step);
  }
  for (int64_t p = 0; p < pixels; ++p, x += channels, out += channels) {
    float mean = 0.0f, factor = inverse_step;
    if (layer_norm) {
      float sum = 0.0f;
      for (int64_t k = 0; k < channels; ++k) sum += x[k];
      mean = sum / static_cast<float>(channels);
      float squares = 0.0f;
      for (int64_t k = 0; k < channels; ++k) squares += (x[k] - mean) * (x[k] - mean);
      factor = inverse_step / std::sqrt(squares / static_cast<float>(channels) + epsilon);
    }
    for (int64_t k = 0; k < channels; ++k) out[k] = quantized((x[k] - mean) * factor);
  }
}

void scale(const float* in, int8_t* out, const float* factors, int64_t pixels, int64_t channels) {
  if (cpu_has_avx512()) return scale_avx512(in, out, factors, pixels, channels);
  for (int64_t p = 0; p < pixels; ++p, in += channels, out += channels) {
    for (int64_t k = 0; k < channels; ++k) out[k] = quantized(in[k] * factors[k]);
  }
}

}  // namespace ern::inference::int8
