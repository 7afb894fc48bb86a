// The strips' depth-wise + SimpleGate row kernel against LibTorch: conv2d with groups, then the
// gate and its sums, on channel counts on and off the 16 vector lanes, rows that are all edge,
// and rows at the image's top and bottom (no row above or below).

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "inference/fp32_spans.h"

namespace ern::inference {
namespace {

TEST(DepthwiseGateRow, EqualsAGroupedConvolutionThenTheGateAndItsSums) {
  torch::manual_seed(5);
  struct Case {
    int64_t channels, height, width;
  };
  for (const auto& shape : std::vector<Case>{{16, 5, 23}, {12, 4, 9}, {40, 3, 2}, {8, 2, 1}}) {
    SCOPED_TRACE(::testing::Message()
                 << shape.channels << " channels, " << shape.height << "x" << shape.width);
    const int64_t wide = 2 * shape.channels;
    const auto input = torch::randn({1, wide, shape.height, shape.width});
    const auto weight = torch::randn({wide, 1, 3, 3});
    const auto bias = torch::randn({wide});
    const auto t = torch::conv2d(input, weight, bias, 1, 1, 1, wide);
    const auto expected =
        (t.narrow(1, 0, shape.channels) * t.narrow(1, shape.channels, shape.channels))
            .permute({0, 2, 3, 1})
            .contiguous();

    const auto rows = input.permute({0, 2, 3, 1}).contiguous();    // [1, H, W, 2c]
    const auto taps = weight.reshape({wide, 9}).t().contiguous();  // [9, 2c]
    auto out = torch::zeros({shape.height, shape.width, shape.channels});
    auto sums = torch::zeros({shape.channels});
    for (int64_t y = 0; y < shape.height; ++y) {
      const float* neighbours[3];
      for (int64_t ky = 0; ky < 3; ++ky) {
        const int64_t row = y + ky - 1;
        neighbours[ky] = row >= 0 && row < shape.height
                             ? rows.data_ptr<float>() + row * shape.width * wide
                             : nullptr;
      }
      fp32::depthwise_gate_row(neighbours, taps.data_ptr<float>(), bias.data_ptr<float>(),
                               out.data_ptr<float>() + y * shape.width * shape.channels,
                               sums.data_ptr<float>(), shape.width, shape.channels);
    }
    EXPECT_TRUE(torch::allclose(out, expected[0], 1e-5, 1e-4));
    EXPECT_TRUE(torch::allclose(sums, expected.sum({0, 1, 2}), 1e-5, 1e-3));
  }
}

}  // namespace
}  // namespace ern::inference
