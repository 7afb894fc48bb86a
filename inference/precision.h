#pragma once
// The arithmetic a model is served in. fp32 is the reference; bf16 keeps each block's residual
// stream, the image and the convolutions around the blocks in fp32 and runs the activations inside
// a block (normalized, expanded, gated) in bfloat16, where the CPU computes it natively (AVX-512
// BF16 or AMX). Elsewhere a bf16 model runs in fp32 and says so. int8 runs each block's four
// dense 1x1 convolutions on int8 inputs and weights (post-training quantization calibrated on
// photographs, int8_calibration.h) and everything else in fp32; oneDNN runs it on any x86-64
// CPU, fastest with AVX-512 VNNI or AMX.

#include <string>

#include <nlohmann/json.hpp>

namespace ern::inference {

enum class Precision { kFp32, kBf16, kInt8 };

// "fp32", "bf16" or "int8"; throws std::invalid_argument naming the allowed values.
Precision parse_precision(const std::string& name);
const char* name_of(Precision precision);

// Whether oneDNN runs bf16 convolutions natively on this CPU (AVX-512 BF16 or AMX).
bool cpu_has_native_bf16();

// Whether oneDNN runs its AVX2 (or later) kernels on this CPU.
bool cpu_has_avx2();

// A model.json's metadata.serving_precision (fp32 when absent); throws std::invalid_argument
// naming the field and the allowed values.
Precision serving_precision_of(const nlohmann::json& metadata);

// What a network asked to run in `requested` runs in on this CPU: bf16 without native bf16, and
// int8 below AVX2 (where oneDNN 2.6's 1x1 kernels apply the feed-forward gate's product wrongly
// for some channel counts, and in int8 that product is inside the quantized output), run in fp32.
Precision effective_precision(Precision requested);

}  // namespace ern::inference
