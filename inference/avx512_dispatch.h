#pragma once
// What the spans files share to run AVX-512 where the CPU has it: the fp32 and int8 vectorized
// forms are compiled for AVX-512 whatever the rest of the build targets (ERN_AVX512_TARGET) and
// called only where cpu_has_avx512(), elsewhere their portable forms run; the bf16 ones need more
// (bf16_spans.cpp).

#include <immintrin.h>

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

}  // namespace ern::inference
