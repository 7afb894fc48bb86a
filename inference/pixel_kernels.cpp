#include "inference/pixel_kernels.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

namespace ern::inference {
namespace {

// Pixels per task: enough to amortize the scheduling, few enough to spread over the cores.
constexpr int64_t kPixelsPerTask = 512;

}  // namespace

void simple_gate(const float* in, float* out, int64_t images, int64_t pixels, int64_t channels,
                 float* means) {
  const int64_t tasks_per_image = (pixels + kPixelsPerTask - 1) / kPixelsPerTask;
  // Per-task partial sums, added in a fixed order afterwards so the means do not depend on how
  // the tasks were scheduled.
  std::vector<float> partial(means ? images * tasks_per_image * channels : 0, 0.0f);
  at::parallel_for(0, images * tasks_per_image, 1, [&](int64_t first, int64_t last) {
    for (int64_t task = first; task < last; ++task) {
      const int64_t image = task / tasks_per_image;
      const int64_t begin = (task % tasks_per_image) * kPixelsPerTask;
      const int64_t end = std::min(pixels, begin + kPixelsPerTask);
      float* sums = means ? partial.data() + task * channels : nullptr;
      for (int64_t p = image * pixels + begin; p < image * pixels + end; ++p) {
        const float* a = in + p * 2 * channels;
        const float* b = a + channels;
        float* o = out + p * channels;
        for (int64_t k = 0; k < channels; ++k) o[k] = a[k] * b[k];
        if (sums) {
          for (int64_t k = 0; k < channels; ++k) sums[k] += o[k];
        }
      }
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

void scale_channels(float* x, const float* scales, int64_t images, int64_t pixels,
                    int64_t channels) {
  at::parallel_for(0, images * pixels, kPixelsPerTask, [&](int64_t first, int64_t last) {
    for (int64_t p = first; p < last; ++p) {
      const float* scale = scales + (p / pixels) * channels;
      float* values = x + p * channels;
      for (int64_t k = 0; k < channels; ++k) values[k] *= scale[k];
    }
  });
}

void pixel_shuffle_add(const float* in, float* out, int64_t images, int64_t height, int64_t width,
                       int64_t channels) {
  at::parallel_for(0, images * height, 1, [&](int64_t first, int64_t last) {
    for (int64_t row = first; row < last; ++row) {
      const int64_t image = row / height, h = row % height;
      for (int64_t w = 0; w < width; ++w) {
        const float* source = in + ((image * height + h) * width + w) * 4 * channels;
        for (int64_t i = 0; i < 2; ++i) {
          for (int64_t j = 0; j < 2; ++j) {
            float* target =
                out + ((image * 2 * height + 2 * h + i) * 2 * width + 2 * w + j) * channels;
            const float* shuffled = source + 2 * i + j;
            for (int64_t k = 0; k < channels; ++k) target[k] += shuffled[4 * k];
          }
        }
      }
    }
  });
}

}  // namespace ern::inference
