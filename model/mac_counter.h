#pragma once
// Counts multiply-accumulates of convolutions during a real forward pass: every convolution in
// the network library runs through counted_conv, which adds to the innermost active
// MacCountScope on this thread (and costs one thread-local load when none is active).

#include <torch/torch.h>

#include <cstdint>

namespace ern {

class MacCountScope {
 public:
  MacCountScope();
  ~MacCountScope();
  MacCountScope(const MacCountScope&) = delete;
  MacCountScope& operator=(const MacCountScope&) = delete;

  void add(int64_t macs) { macs_ += macs; }
  int64_t macs() const { return macs_; }

 private:
  int64_t macs_ = 0;
  MacCountScope* outer_;
};

torch::Tensor counted_conv(torch::nn::Conv2d& conv, const torch::Tensor& x);

// Convolution MACs of one forward pass of `network` on a single image of the given size.
int64_t count_conv_macs(torch::nn::Module& network,
                        const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                        int64_t channels, int64_t height, int64_t width);

}  // namespace ern
