#include "inference/narrow_convolution.h"

#include <ATen/Parallel.h>

#include "inference/avx512_dispatch.h"
#include "inference/fp32_spans.h"

namespace ern::inference {

bool NarrowConvolution::suits(const ConvParameters& conv) {
  const auto& weight = conv.weight;
  return cpu_has_avx512() && weight.dim() == 4 && weight.size(0) <= kMaxOutputs &&
         weight.size(2) == 3 && weight.size(3) == 3 && conv.stride == 1 && conv.groups == 1 &&
         conv.bias.defined();
}

NarrowConvolution::NarrowConvolution(const ConvParameters& conv)
    : outputs_(conv.weight.size(0)),
      channels_(conv.weight.size(1)),
      padded_channels_((channels_ + kAvx512Lanes - 1) / kAvx512Lanes * kAvx512Lanes),
      weights_(9 * outputs_ * padded_channels_, 0.0f) {
  if (!suits(conv)) throw std::logic_error("NarrowConvolution: not a convolution it computes");
  // [o][c][ky][kx] -> [ky][kx][o][c], each output's channels padded with zeros.
  const auto weight = conv.weight.to(torch::kFloat).contiguous();
  const float* source = weight.data_ptr<float>();
  for (int64_t o = 0; o < outputs_; ++o) {
    for (int64_t c = 0; c < channels_; ++c) {
      for (int64_t tap = 0; tap < 9; ++tap) {
        weights_[(tap * outputs_ + o) * padded_channels_ + c] =
            source[(o * channels_ + c) * 9 + tap];
      }
    }
  }
  const auto bias = conv.bias.to(torch::kFloat).contiguous();
  bias_.assign(bias.data_ptr<float>(), bias.data_ptr<float>() + outputs_);
}

void NarrowConvolution::run_accumulated(const float* in, float* out, int64_t images, int64_t height,
                                        int64_t width) const {
  at::parallel_for(0, images * height, 1, [&](int64_t first, int64_t last) {
    for (int64_t row = first; row < last; ++row) {
      const int64_t y = row % height;
      const float* image = in + (row - y) * width * channels_;
      const float* rows[3];
      for (int64_t ky = 0; ky < 3; ++ky) {
        const int64_t source_row = y + ky - 1;
        rows[ky] = source_row >= 0 && source_row < height ? image + source_row * width * channels_
                                                          : nullptr;
      }
      fp32::narrow_conv3x3_row(rows, weights_.data(), bias_.data(), out + row * width * outputs_,
                               width, channels_, padded_channels_, outputs_);
    }
  });
}

}  // namespace ern::inference
