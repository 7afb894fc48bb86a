#pragma once
// The network's ending convolution, 3x3 from `width` channels to the image's few (3 for RGB),
// accumulated into its destination (the global residual), as an AVX-512 kernel of its own: oneDNN
// 2.6 computes output channels in blocks of 16, so with 3 of them it uses 3 of 16 lanes and ran at
// about a fifth of its rate (1.4 ms of an ERN-Net's 19 ms forward at 256x256, as long as a dense
// 64->128 1x1 convolution with 15 times the multiply-adds). Here every lane holds an input
// channel, and each output is a horizontal sum.

#include <cstdint>
#include <vector>

#include "inference/dnnl_convolution.h"
#include "inference/fp32_spans.h"

namespace ern::inference {

class NarrowConvolution {
 public:
  static constexpr int64_t kMaxOutputs = fp32::kMaxNarrowOutputs;

  // Whether `conv` is one it computes (3x3, stride 1, dense, at most kMaxOutputs outputs, with a
  // bias) on this CPU (AVX-512).
  static bool suits(const ConvParameters& conv);
  explicit NarrowConvolution(const ConvParameters& conv);

  // out[n, y, x, o] += bias[o] + the convolution of `in` (zero padding of 1), both channels-last
  // ([images, height, width, channels] and [images, height, width, outputs]).
  void run_accumulated(const float* in, float* out, int64_t images, int64_t height,
                       int64_t width) const;

 private:
  int64_t outputs_, channels_, padded_channels_;
  std::vector<float> weights_;  // [ky][kx][output][padded_channels_], zeros past channels_
  std::vector<float> bias_;
};

}  // namespace ern::inference
