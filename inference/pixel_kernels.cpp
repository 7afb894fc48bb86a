#include "inference/pixel_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "inference/bf16_spans.h"
#include "inference/fp32_spans.h"
#include "inference/int8_spans.h"

namespace ern::inference {
namespace {

// Pixels per task: enough to amortize the scheduling, few enough to spread over the cores.
constexpr int64_t kPixelsPerTask = 512;

// SimpleGate over tasks of pixels, `span` doing a task's pixels (and their sums for the pool).
template <typename T, typename Span>
void gate_in_tasks(const T* in, T* out, int64_t images, int64_t pixels, int64_t channels,
                   float* means, const Span& span) {
  const int64_t tasks_per_image = (pixels + kPixelsPerTask - 1) / kPixelsPerTask;
  // Per-task partial sums, added in a fixed order afterwards so the means do not depend on how
  // the tasks were scheduled.
  std::vector<float> partial(means ? images * tasks_per_image * channels : 0, 0.0f);
  at::parallel_for(0, images * tasks_per_image, 1, [&](int64_t first, int64_t last) {
    for (int64_t task = first; task < last; ++task) {
      const int64_t image = task / tasks_per_image;
      const int64_t begin = (task % tasks_per_image) * kPixelsPerTask;
      const int64_t end = std::min(pixels, begin + kPixelsPerTask);
      const int64_t pixel = image * pixels + begin;
      span(in + pixel * 2 * channels, out + pixel * channels, end - begin,
           means ? partial.data() + task * channels : nullptr);
    }
  });
  if (!means) return;
  for (int64_t image = 0; image < images; ++image) {
    float* mean = means + image * channels;
    std::fill(mean, mean + channels, 0.0f);
    for (int64_t task = 0; task < tasks_per_image; ++task) {
      const float* sums = partial.data() + (image * tasks_per_image + task) * channels;
      for (int64_t k = 0; k < channels; ++k) mean[k] += sums[k];
    }
    for (int64_t k = 0; k < channels; ++k) mean[k] /= static_cast<float>(pixels);
  }
}

// `span(first_pixel, pixel_count, image)` over every pixel of every image, in tasks.
template <typename Span>
void over_pixels(int64_t images, int64_t pixels, const Span& span) {
  at::parallel_for(0, images * pixels, kPixelsPerTask, [&](int64_t first, int64_t last) {
    while (first < last) {
      const int64_t image = first / pixels;
      const int64_t end = std::min(last, (image + 1) * pixels);
      span(first, end - first, image);
      first = end;
    }
  });
}

}  // namespace

void simple_gate(const float* in, float* out, int64_t images, int64_t pixels, int64_t channels,
                 float* means) {
  gate_in_tasks(in, out, images, pixels, channels, means,
                [channels](const float* a, float* o, int64_t count, float* sums) {
                  for (int64_t p = 0; p < count; ++p, a += 2 * channels, o += channels) {
                    const float* b = a + channels;
                    for (int64_t k = 0; k < channels; ++k) o[k] = a[k] * b[k];
                    if (sums) {
                      for (int64_t k = 0; k < channels; ++k) sums[k] += o[k];
                    }
                  }
                });
}

void simple_gate_bf16(const uint16_t* in, uint16_t* out, int64_t images, int64_t pixels,
                      int64_t channels, float* means) {
  gate_in_tasks(in, out, images, pixels, channels, means,
                [channels](const uint16_t* a, uint16_t* o, int64_t count, float* sums) {
                  bf16::gate(a, o, count, channels, sums);
                });
}

void scale_channels(float* x, const float* scales, int64_t images, int64_t pixels,
                    int64_t channels) {
  over_pixels(images, pixels, [&](int64_t first, int64_t count, int64_t image) {
    const float* scale = scales + image * channels;
    float* values = x + first * channels;
    for (int64_t p = 0; p < count; ++p, values += channels) {
      for (int64_t k = 0; k < channels; ++k) values[k] *= scale[k];
    }
  });
}

void scale_channels_bf16(uint16_t* x, const float* scales, int64_t images, int64_t pixels,
                         int64_t channels) {
  over_pixels(images, pixels, [&](int64_t first, int64_t count, int64_t image) {
    bf16::scale(x + first * channels, scales + image * channels, count, channels);
  });
}

void to_bf16(const float* x, uint16_t* out, int64_t pixels, int64_t channels, bool layer_norm,
             float epsilon) {
  over_pixels(1, pixels, [&](int64_t first, int64_t count, int64_t) {
    if (layer_norm) {
      bf16::layer_norm(x + first * channels, out + first * channels, count, channels, epsilon);
    } else {
      bf16::convert(x + first * channels, out + first * channels, count * channels);
    }
  });
}

void to_int8(const float* x, int8_t* out, int64_t pixels, int64_t channels, bool layer_norm,
             float epsilon, float step) {
  over_pixels(1, pixels, [&](int64_t first, int64_t count, int64_t) {
    int8::normalize(x + first * channels, out + first * channels, count, channels, layer_norm,
                    epsilon, 1.0f / step);
  });
}

void scaled_to_int8(const float* in, int8_t* out, const float* scales, const float* inverse_steps,
                    int64_t images, int64_t pixels, int64_t channels) {
  over_pixels(images, pixels, [&](int64_t first, int64_t count, int64_t image) {
    std::vector<float> factors(inverse_steps, inverse_steps + channels);
    if (scales) {
      for (int64_t k = 0; k < channels; ++k) factors[k] *= scales[image * channels + k];
    }
    int8::scale(in + first * channels, out + first * channels, factors.data(), count, channels);
  });
}

float max_abs(const float* x, int64_t count) {
  float largest = 0.0f;
  for (int64_t i = 0; i < count; ++i) largest = std::max(largest, std::abs(x[i]));
  return largest;
}

void widen_channel_ranges(const float* in, const float* scales, int64_t images, int64_t pixels,
                          int64_t channels, std::vector<float>& ranges) {
  if (static_cast<int64_t>(ranges.size()) < channels) ranges.resize(channels, 0.0f);
  for (int64_t image = 0; image < images; ++image) {
    const float* row = in + image * pixels * channels;
    for (int64_t p = 0; p < pixels; ++p, row += channels) {
      for (int64_t k = 0; k < channels; ++k) {
        const float scale = scales ? scales[image * channels + k] : 1.0f;
        ranges[k] = std::max(ranges[k], std::abs(row[k] * scale));
      }
    }
  }
}

void pixel_shuffle_add(const float* in, float* out, int64_t images, int64_t height, int64_t width,
                       int64_t channels) {
  at::parallel_for(0, images * height, 1, [&](int64_t first, int64_t last) {
    for (int64_t row = first; row < last; ++row) {
      const int64_t image = row / height, h = row % height;
      float* top = out + (image * 2 * height + 2 * h) * 2 * width * channels;
      fp32::shuffle_add_row(in + row * width * 4 * channels, top, top + 2 * width * channels, width,
                            channels);
    }
  });
}

}  // namespace ern::inference
