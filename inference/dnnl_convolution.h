#pragma once
// One convolution of the fused inference engine as a oneDNN primitive, on channels-last (NHWC)
// activations, with the post-ops that fold its neighbours into it: an accumulation into the
// destination (a residual) or a product with another tensor of the destination's shape
// (SimpleGate). NAFNet's conv1 -> depth-wise conv2 stays two primitives: oneDNN 2.6's fused
// 1x1 + depth-wise kernel (the append_dw post-op) returns wrong values from about 96x96 pixels up.

#include <torch/torch.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <unordered_map>
#include <utility>
#include <vector>

namespace ern::inference {

// The CPU engine every primitive of the process is made for.
const dnnl::engine& cpu_engine();

// A convolution's parameters as the network holds them: weight [O, I/groups, kH, kW], bias [O] or
// undefined (none). The weights packed for a primitive are kept here, one copy per layout, so
// the plans of every input shape share them.
struct ConvParameters {
  torch::Tensor weight;
  torch::Tensor bias;
  int64_t stride = 1;
  int64_t groups = 1;

  const dnnl::memory& weights_as(const dnnl::memory::desc& desc) const;
  const dnnl::memory& bias_memory() const;
  // int8: each output channel's weight step, and the weights in those steps in layout `desc`.
  const std::vector<float>& weight_steps() const;
  const dnnl::memory& quantized_weights_as(const dnnl::memory::desc& desc) const;

 private:
  mutable std::vector<float> weight_steps_;
  mutable std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> packed_;
  mutable dnnl::memory bias_;
};

struct ConvFusion {
  bool accumulate = false;  // dst += conv(src) instead of dst = conv(src)
  bool multiply = false;    // dst = conv(src) * other, other shaped like dst

  static ConvFusion accumulated() {
    ConvFusion fusion;
    fusion.accumulate = true;
    return fusion;
  }
  static ConvFusion times_tensor() {
    ConvFusion fusion;
    fusion.multiply = true;
    return fusion;
  }
};

// The element types a convolution reads and writes; its weights take the source's type (bf16
// weights for a bf16 source; for an s8 source, s8 weights in steps of their output channel's
// largest magnitude / 127), its bias stays fp32.
struct ConvTypes {
  dnnl::memory::data_type src = dnnl::memory::data_type::f32;
  dnnl::memory::data_type dst = dnnl::memory::data_type::f32;
  float src_step = 0.0f;  // s8 source: the value of one int8 step
  // s8 source: each output channel's values times this before they are written (empty: 1); an
  // s8 destination holds values in steps of 1, so these are its channels' 1 / step.
  std::vector<float> output_multipliers;

  static ConvTypes int8_into(dnnl::memory::data_type dst, float src_step,
                             std::vector<float> output_multipliers = {}) {
    return {dnnl::memory::data_type::s8, dst, src_step, std::move(output_multipliers)};
  }
};

class Convolution {
 public:
  // src: [N, C, H, W] channels-last; padding keeps "same" sizes for odd kernels.
  Convolution(const ConvParameters& conv, const dnnl::memory::dims& src_dims,
              const ConvFusion& fusion = {}, const ConvTypes& types = {});

  const dnnl::memory::dims& dst_dims() const { return dst_dims_; }
  size_t scratchpad_bytes() const { return pd_.scratchpad_desc().get_size(); }

  // The pointers are channels-last buffers of the shapes and types above; `other` (the
  // destination's shape, fp32 for an s8 destination, else its type) only to multiply.
  void run(dnnl::stream& stream, const void* src, void* dst, void* scratchpad,
           const void* other = nullptr) const;

  // Replaces the weights with `weight` (the same shape, any float tensor), for per-image weights
  // (a channel attention scale folded into the convolution after it).
  void repack_weights(dnnl::stream& stream, const torch::Tensor& weight);

 private:
  dnnl::convolution_forward::primitive_desc pd_;
  dnnl::convolution_forward primitive_;
  dnnl::memory::dims dst_dims_;
  std::unordered_map<int, dnnl::memory> arguments_;  // the weights and biases
  dnnl::memory::desc user_weights_desc_;
  dnnl::memory own_weights_;       // after repack_weights: this primitive's alone
  int multiply_index_ = -1;        // of its binary post-op, if any
  bool multiply_after_ = false;    // the product taken after the primitive instead (see run)
  dnnl::memory::desc other_desc_;  // its other operand: fp32, the destination's shape
  dnnl::memory int8_bias_;         // s8 source: the bias in accumulator units
};

}  // namespace ern::inference
