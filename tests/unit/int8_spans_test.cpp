#include "inference/int8_spans.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace ern::inference {
namespace {

constexpr float kEpsilon = 1e-6f;

// LayerNorm of each pixel in double precision, then int8 steps: what int8::normalize approximates.
std::vector<int> reference(const std::vector<float>& x, int64_t pixels, int64_t channels,
                           bool layer_norm, float inverse_step) {
  std::vector<int> out;
  for (int64_t p = 0; p < pixels; ++p) {
    const float* row = x.data() + p * channels;
    double mean = 0.0, factor = inverse_step;
    if (layer_norm) {
      for (int64_t k = 0; k < channels; ++k) mean += row[k];
      mean /= static_cast<double>(channels);
      double squares = 0.0;
      for (int64_t k = 0; k < channels; ++k) squares += (row[k] - mean) * (row[k] - mean);
      factor /= std::sqrt(squares / static_cast<double>(channels) + kEpsilon);
    }
    for (int64_t k = 0; k < channels; ++k) {
      out.push_back(
          static_cast<int>(std::nearbyint(std::clamp((row[k] - mean) * factor, -127.0, 127.0))));
    }
  }
  return out;
}

TEST(Int8Spans, NormalizeMatchesLayerNormInDoublePrecisionForEveryWidthAndPixelCount) {
  std::mt19937 random(7);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  for (const int64_t channels : {16, 24, 32, 64, 256}) {
    for (const int64_t pixels : {1, 2, 5, 8}) {
      // Each pixel its own offset and spread, so a mean or variance taken from the wrong pixel
      // shows.
      std::vector<float> x;
      for (int64_t p = 0; p < pixels; ++p) {
        const float offset = 4.0f * noise(random), spread = 0.1f + std::abs(noise(random));
        for (int64_t k = 0; k < channels; ++k) x.push_back(offset + spread * noise(random));
      }
      for (const bool layer_norm : {true, false}) {
        const float inverse_step = layer_norm ? 127.0f / 4.0f : 127.0f / 12.0f;
        std::vector<int8_t> out(x.size());
        int8::normalize(x.data(), out.data(), pixels, channels, layer_norm, kEpsilon, inverse_step);
        const auto expected = reference(x, pixels, channels, layer_norm, inverse_step);
        for (size_t i = 0; i < out.size(); ++i) {
          // (float against double rounding may land one step apart at a half.)
          ASSERT_LE(std::abs(out[i] - expected[i]), 1)
              << channels << " channels, " << pixels << " pixels, layer_norm " << layer_norm
              << ", value " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace ern::inference
