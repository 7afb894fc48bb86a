#include "inference/fp32_spans.h"

#include <immintrin.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

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

// [a0 + a1, a2 + a3, b0 + b1, b2 + b3] of the 128-bit chunks of a and b.
ERN_AVX512_TARGET inline __m512 chunk_pairs(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
}

// Lane i of the result: the sum of the 16 lanes of v[i] (a transposing tree of adds, about three
// operations per vector where a reduction of each alone takes eight).
ERN_AVX512_TARGET inline __m512 sums_of_lanes(const __m512 (&v)[16]) {
  __m512 pairs[8], quads[4];
  for (int j = 0; j < 8; ++j) {  // per 128-bit chunk: a, b, a, b
    pairs[j] = _mm512_add_ps(_mm512_unpacklo_ps(v[2 * j], v[2 * j + 1]),
                             _mm512_unpackhi_ps(v[2 * j], v[2 * j + 1]));
  }
  for (int j = 0; j < 4; ++j) {  // per chunk: the chunk's sums of sources 4j .. 4j + 3
    const __m512d c = _mm512_castps_pd(pairs[2 * j]), d = _mm512_castps_pd(pairs[2 * j + 1]);
    quads[j] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(c, d)),
                             _mm512_castpd_ps(_mm512_unpackhi_pd(c, d)));
  }
  return chunk_pairs(chunk_pairs(quads[0], quads[1]), chunk_pairs(quads[2], quads[3]));
}

// The output pixels x .. x + 16 / Outputs - 1, all of whose columns x - 1 .. x + 16 / Outputs lie
// inside the image: one accumulator of 16 channel lanes per pixel and output (independent chains
// of multiply-adds, each weight vector loaded once for all the pixels), summed together into the
// 16 / Outputs * Outputs consecutive values they add to.
template <int Outputs>
ERN_AVX512_TARGET inline void narrow_conv3x3_inside(const float* const rows[3],
                                                    const float* weights, __m512 bias, float* out,
                                                    int64_t x, int64_t channels,
                                                    int64_t padded_channels) {
  constexpr int kPixels = 16 / Outputs;
  __m512 sums[16];
  for (auto& sum : sums) sum = _mm512_setzero_ps();
  for (int ky = 0; ky < 3; ++ky) {
    if (!rows[ky]) continue;
    for (int kx = 0; kx < 3; ++kx) {
      const float* tap = weights + (ky * 3 + kx) * Outputs * padded_channels;
      const float* first = rows[ky] + (x + kx - 1) * channels;
      for (int64_t k = 0; k < channels; k += kAvx512Lanes) {
        const auto mask = lanes_left(channels - k);
        __m512 taps[Outputs];
        for (int o = 0; o < Outputs; ++o) taps[o] = _mm512_loadu_ps(tap + o * padded_channels + k);
        for (int p = 0; p < kPixels; ++p) {
          const __m512 values = _mm512_maskz_loadu_ps(mask, first + p * channels + k);
          for (int o = 0; o < Outputs; ++o) {
            sums[p * Outputs + o] = _mm512_fmadd_ps(values, taps[o], sums[p * Outputs + o]);
          }
        }
      }
    }
  }
  const __mmask16 used = lanes_left(kPixels * Outputs);
  float* target = out + x * Outputs;
  const __m512 before = _mm512_maskz_loadu_ps(used, target);
  _mm512_mask_storeu_ps(target, used,
                        _mm512_add_ps(before, _mm512_add_ps(bias, sums_of_lanes(sums))));
}

// One output pixel x, near the image's left or right edge: columns outside it count as zeros.
template <int Outputs>
ERN_AVX512_TARGET inline void narrow_conv3x3_edge(const float* const rows[3], const float* weights,
                                                  const float* bias, float* out, int64_t x,
                                                  int64_t width, int64_t channels,
                                                  int64_t padded_channels) {
  __m512 sums[Outputs];
  for (auto& sum : sums) sum = _mm512_setzero_ps();
  for (int ky = 0; ky < 3; ++ky) {
    if (!rows[ky]) continue;
    for (int kx = 0; kx < 3; ++kx) {
      const int64_t column = x + kx - 1;
      if (column < 0 || column >= width) continue;
      const float* tap = weights + (ky * 3 + kx) * Outputs * padded_channels;
      for (int64_t k = 0; k < channels; k += kAvx512Lanes) {
        const __m512 values =
            _mm512_maskz_loadu_ps(lanes_left(channels - k), rows[ky] + column * channels + k);
        for (int o = 0; o < Outputs; ++o) {
          sums[o] =
              _mm512_fmadd_ps(values, _mm512_loadu_ps(tap + o * padded_channels + k), sums[o]);
        }
      }
    }
  }
  for (int o = 0; o < Outputs; ++o) out[x * Outputs + o] += bias[o] + _mm512_reduce_add_ps(sums[o]);
}

template <int Outputs>
ERN_AVX512_TARGET void narrow_conv3x3_row_avx512(const float* const rows[3], const float* weights,
                                                 const float* bias, float* out, int64_t width,
                                                 int64_t channels, int64_t padded_channels) {
  constexpr int kPixels = 16 / Outputs;
  float tiled[16] = {};  // the bias of each value one call inside the image adds to
  for (int i = 0; i < kPixels * Outputs; ++i) tiled[i] = bias[i % Outputs];
  const __m512 tiled_bias = _mm512_loadu_ps(tiled);
  int64_t x = 0;
  if (width > 0) {
    narrow_conv3x3_edge<Outputs>(rows, weights, bias, out, x++, width, channels, padded_channels);
  }
  for (; x + kPixels < width; x += kPixels) {
    narrow_conv3x3_inside<Outputs>(rows, weights, tiled_bias, out, x, channels, padded_channels);
  }
  for (; x < width; ++x) {
    narrow_conv3x3_edge<Outputs>(rows, weights, bias, out, x, width, channels, padded_channels);
  }
}

// Sixteen channels k .. k + 15 (those `mask` keeps) of depthwise_gate_row, the 18 taps of both
// halves held in registers across the row.
ERN_AVX512_TARGET inline void depthwise_gate_lanes(const float* const rows[3], const float* weights,
                                                   const float* bias, float* out, float* sums,
                                                   int64_t width, int64_t channels, int64_t k,
                                                   __mmask16 mask) {
  const int64_t wide = 2 * channels;
  __m512 first[9], second[9];
  for (int tap = 0; tap < 9; ++tap) {
    first[tap] = _mm512_maskz_loadu_ps(mask, weights + tap * wide + k);
    second[tap] = _mm512_maskz_loadu_ps(mask, weights + tap * wide + channels + k);
  }
  const __m512 first_bias = _mm512_maskz_loadu_ps(mask, bias + k);
  const __m512 second_bias = _mm512_maskz_loadu_ps(mask, bias + channels + k);
  __m512 pool = _mm512_setzero_ps();
  const auto pixel = [&](int64_t x, bool left, bool right) ERN_AVX512_TARGET {
    __m512 a = first_bias, b = second_bias;
    for (int ky = 0; ky < 3; ++ky) {
      if (!rows[ky]) continue;
      for (int kx = left ? 1 : 0; kx < (right ? 2 : 3); ++kx) {
        const float* values = rows[ky] + (x + kx - 1) * wide + k;
        a = _mm512_fmadd_ps(first[ky * 3 + kx], _mm512_maskz_loadu_ps(mask, values), a);
        b = _mm512_fmadd_ps(second[ky * 3 + kx], _mm512_maskz_loadu_ps(mask, values + channels), b);
      }
    }
    const __m512 gated = _mm512_mul_ps(a, b);
    _mm512_mask_storeu_ps(out + x * channels + k, mask, gated);
    pool = _mm512_add_ps(pool, gated);
  };
  pixel(0, true, width == 1);
  for (int64_t x = 1; x + 1 < width; ++x) pixel(x, false, false);
  if (width > 1) pixel(width - 1, false, true);
  if (sums) {
    _mm512_mask_storeu_ps(sums + k, mask,
                          _mm512_add_ps(_mm512_maskz_loadu_ps(mask, sums + k), pool));
  }
}

ERN_AVX512_TARGET void depthwise_gate_row_avx512(const float* const rows[3], const float* weights,
                                                 const float* bias, float* out, float* sums,
                                                 int64_t width, int64_t channels) {
  for (int64_t k = 0; k < channels; k += kAvx512Lanes) {
    depthwise_gate_lanes(rows, weights, bias, out, sums, width, channels, k,
                         lanes_left(channels - k));
  }
}

}  // namespace

void depthwise_gate_row(const float* const rows[3], const float* weights, const float* bias,
                        float* out, float* sums, int64_t width, int64_t channels) {
  if (cpu_has_avx512()) {
    return depthwise_gate_row_avx512(rows, weights, bias, out, sums, width, channels);
  }
  const int64_t wide = 2 * channels;
  std::vector<float> t(wide);
  for (int64_t x = 0; x < width; ++x) {
    std::copy(bias, bias + wide, t.begin());
    for (int ky = 0; ky < 3; ++ky) {
      for (int kx = 0; kx < 3; ++kx) {
        const int64_t column = x + kx - 1;
        if (!rows[ky] || column < 0 || column >= width) continue;
        const float* values = rows[ky] + column * wide;
        const float* tap = weights + (ky * 3 + kx) * wide;
        for (int64_t j = 0; j < wide; ++j) t[j] += tap[j] * values[j];
      }
    }
    for (int64_t k = 0; k < channels; ++k) {
      out[x * channels + k] = t[k] * t[channels + k];
      if (sums) sums[k] += out[x * channels + k];
    }
  }
}

void narrow_conv3x3_row(const float* const rows[3], const float* weights, const float* bias,
                        float* out, int64_t width, int64_t channels, int64_t padded_channels,
                        int64_t outputs) {
  using Row = void (*)(const float* const[3], const float*, const float*, float*, int64_t, int64_t,
                       int64_t);
  static constexpr Row kRowOf[] = {nullptr, narrow_conv3x3_row_avx512<1>,
                                   narrow_conv3x3_row_avx512<2>, narrow_conv3x3_row_avx512<3>,
                                   narrow_conv3x3_row_avx512<4>};
  static_assert(std::size(kRowOf) == kMaxNarrowOutputs + 1);
  if (outputs < 1 || outputs > kMaxNarrowOutputs) {
    throw std::invalid_argument("narrow_conv3x3_row: " + std::to_string(outputs) +
                                " outputs (1 to " + std::to_string(kMaxNarrowOutputs) + ")");
  }
  kRowOf[outputs](rows, weights, bias, out, width, channels, padded_channels);
}

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
