#include "model/mac_counter.h"

namespace ern {
namespace {
thread_local MacCountScope* active_scope = nullptr;
}  // namespace

MacCountScope::MacCountScope() : outer_(active_scope) { active_scope = this; }
MacCountScope::~MacCountScope() { active_scope = outer_; }

torch::Tensor counted_conv(torch::nn::Conv2d& conv, const torch::Tensor& x) {
  auto out = conv->forward(x);
  if (active_scope != nullptr) {
    const auto& options = conv->options;
    const auto& kernel = *options.kernel_size();
    const int64_t per_output = (options.in_channels() / options.groups()) * kernel[0] * kernel[1];
    active_scope->add(out.numel() * per_output);
  }
  return out;
}

int64_t count_conv_macs(torch::nn::Module& network,
                        const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                        int64_t channels, int64_t height, int64_t width) {
  torch::NoGradGuard no_grad;
  const bool was_training = network.is_training();
  network.eval();
  const auto device =
      network.parameters().empty() ? torch::kCPU : network.parameters().front().device();
  MacCountScope scope;
  forward(torch::zeros({1, channels, height, width}, torch::TensorOptions().device(device)));
  network.train(was_training);
  return scope.macs();
}

}  // namespace ern
