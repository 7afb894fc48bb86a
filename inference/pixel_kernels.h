#pragma once
// The element-wise steps of NAFNet that oneDNN has no primitive or post-op for, on channels-last
// (NHWC) float buffers, each one pass over memory that does the work of several LibTorch ops. The
// _bf16 forms take bfloat16 buffers (stored as uint16_t) and run only where the CPU has native
// bf16 (precision.h); the int8 ones write the quantized inputs of int8 convolutions.

#include <cstdint>
#include <vector>

namespace ern::inference {

// SimpleGate: out[p, k] = in[p, k] * in[p, channels + k] for each of `images` x `pixels` pixels
// (in has 2 * channels channels). With `means` ([images, channels]), also each image's mean of
// out over its pixels: the global pool of the channel attention that follows, in the same pass.
void simple_gate(const float* in, float* out, int64_t images, int64_t pixels, int64_t channels,
                 float* means = nullptr);
void simple_gate_bf16(const uint16_t* in, uint16_t* out, int64_t images, int64_t pixels,
                      int64_t channels, float* means = nullptr);

// x[n, p, k] *= scales[n, k]: a per-image scale of each channel, in place.
void scale_channels(float* x, const float* scales, int64_t images, int64_t pixels,
                    int64_t channels);
void scale_channels_bf16(uint16_t* x, const float* scales, int64_t images, int64_t pixels,
                         int64_t channels);

// fp32 pixels ([pixels, channels]) to bf16: LayerNorm2d's normalization without its affine
// (folded into the next convolution) when `layer_norm`, else a plain conversion.
void to_bf16(const float* x, uint16_t* out, int64_t pixels, int64_t channels, bool layer_norm,
             float epsilon);

// int8: fp32 pixels ([pixels, channels]) to int8 steps of `step` (round to nearest, saturated to
// [-127, 127]): LayerNorm2d's normalization without its affine first when `layer_norm`.
void to_int8(const float* x, int8_t* out, int64_t pixels, int64_t channels, bool layer_norm,
             float epsilon, float step);
// int8 of in[n, p, k] * scales[n, k] (no scaling when `scales` is null) in steps of
// 1 / inverse_steps[k]: each channel its own step.
void scaled_to_int8(const float* in, int8_t* out, const float* scales, const float* inverse_steps,
                    int64_t images, int64_t pixels, int64_t channels);

// Calibration: the largest |x| of `count` values; and `ranges[k]` widened to the largest
// |in[n, p, k] * scales[n, k]| (no scaling when `scales` is null).
float max_abs(const float* x, int64_t count);
void widen_channel_ranges(const float* in, const float* scales, int64_t images, int64_t pixels,
                          int64_t channels, std::vector<float>& ranges);

// PixelShuffle(2) of `in` ([images, height, width, 4 * channels]) added into `out` ([images,
// 2 * height, 2 * width, channels]): out[n, 2h + i, 2w + j, k] += in[n, h, w, 4k + 2i + j], the
// decoder's upsampling joined with its skip connection.
void pixel_shuffle_add(const float* in, float* out, int64_t images, int64_t height, int64_t width,
                       int64_t channels);

}  // namespace ern::inference
