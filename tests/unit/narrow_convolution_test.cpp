// The ending convolution's own kernel against LibTorch's conv2d: every output count it takes,
// channel counts on and off the 16 vector lanes, images whose rows are all edge and ones with an
// inside, batches, and the accumulation into what the destination held.

#include "inference/narrow_convolution.h"

#include <gtest/gtest.h>

#include "inference/avx512_dispatch.h"

namespace ern::inference {
namespace {

ConvParameters random_conv(int64_t outputs, int64_t channels) {
  ConvParameters conv;
  conv.weight = torch::randn({outputs, channels, 3, 3});
  conv.bias = torch::randn({outputs});
  return conv;
}

TEST(NarrowConvolution, EqualsConv2dAddedIntoTheDestination) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "the kernel runs where the CPU has AVX-512";
  torch::manual_seed(3);
  struct Case {
    int64_t outputs, channels, images, height, width;
  };
  for (const auto& shape : std::vector<Case>{{3, 16, 1, 9, 23},
                                             {3, 32, 2, 6, 40},
                                             {1, 8, 1, 5, 37},
                                             {2, 40, 1, 4, 19},
                                             {4, 16, 3, 7, 21},
                                             {3, 16, 1, 1, 1},
                                             {3, 24, 1, 3, 4}}) {
    SCOPED_TRACE(::testing::Message()
                 << shape.outputs << " outputs, " << shape.channels << " channels, " << shape.images
                 << "x" << shape.height << "x" << shape.width);
    const auto conv = random_conv(shape.outputs, shape.channels);
    ASSERT_TRUE(NarrowConvolution::suits(conv));
    const auto input = torch::randn({shape.images, shape.channels, shape.height, shape.width});
    const auto held = torch::randn({shape.images, shape.outputs, shape.height, shape.width});
    const auto expected =
        held + torch::conv2d(input, conv.weight, conv.bias, /*stride=*/1, /*padding=*/1);

    const auto in = input.contiguous(torch::MemoryFormat::ChannelsLast);
    auto out = held.contiguous(torch::MemoryFormat::ChannelsLast);
    NarrowConvolution(conv).run_accumulated(in.data_ptr<float>(), out.data_ptr<float>(),
                                            shape.images, shape.height, shape.width);
    EXPECT_LT((out - expected).abs().max().item<float>(), 1e-4);
  }
}

TEST(NarrowConvolution, TakesOnlyNarrowDenseThreeByThreeConvolutions) {
  if (!cpu_has_avx512()) GTEST_SKIP() << "the kernel runs where the CPU has AVX-512";
  EXPECT_FALSE(NarrowConvolution::suits(random_conv(NarrowConvolution::kMaxOutputs + 1, 16)));
  auto strided = random_conv(3, 16);
  strided.stride = 2;
  EXPECT_FALSE(NarrowConvolution::suits(strided));
  auto pointwise = random_conv(3, 16);
  pointwise.weight = torch::randn({3, 16, 1, 1});
  EXPECT_FALSE(NarrowConvolution::suits(pointwise));
  auto unbiased = random_conv(3, 16);
  unbiased.bias = torch::Tensor();
  EXPECT_FALSE(NarrowConvolution::suits(unbiased));
  EXPECT_THROW(NarrowConvolution{strided}, std::logic_error);
}

}  // namespace
}  // namespace ern::inference
