#include "inference/dnnl_convolution.h"

#include "inference/precision.h"

namespace ern::inference {
namespace {

using Tag = dnnl::memory::format_tag;
using Type = dnnl::memory::data_type;

dnnl::memory::desc user_weights_desc(const torch::Tensor& weight, int64_t groups) {
  if (groups == 1) {
    return {{weight.size(0), weight.size(1), weight.size(2), weight.size(3)}, Type::f32, Tag::oihw};
  }
  return {{groups, weight.size(0) / groups, weight.size(1), weight.size(2), weight.size(3)},
          Type::f32,
          Tag::goihw};
}

dnnl::memory::desc any_weights_desc(const torch::Tensor& weight, int64_t groups, Type type) {
  auto dims = user_weights_desc(weight, groups).dims();
  return {dims, type, Tag::any};
}

// `tensor` (any strides) into a new memory of layout `desc`, each value of output channel `o`
// times `scales[o]` when given.
dnnl::memory reordered(const torch::Tensor& tensor, const dnnl::memory::desc& user,
                       const dnnl::memory::desc& desc, const std::vector<float>& scales = {}) {
  auto plain = tensor.contiguous();
  dnnl::memory source(user, cpu_engine(), plain.data_ptr<float>());
  dnnl::memory target(desc, cpu_engine());
  dnnl::primitive_attr attributes;
  if (!scales.empty()) attributes.set_output_scales(1 << 0, scales);
  dnnl::stream stream(cpu_engine());
  dnnl::reorder(source, target, attributes).execute(stream, source, target);
  stream.wait();
  return target;
}

}  // namespace

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

const dnnl::memory& ConvParameters::weights_as(const dnnl::memory::desc& desc) const {
  for (const auto& [layout, memory] : packed_) {
    if (layout == desc) return memory;
  }
  packed_.emplace_back(desc, reordered(weight, user_weights_desc(weight, groups), desc));
  return packed_.back().second;
}

const dnnl::memory& ConvParameters::bias_memory() const {
  if (!bias_ && bias.defined()) {
    const dnnl::memory::desc desc({bias.size(0)}, Type::f32, Tag::a);
    bias_ = reordered(bias, desc, desc);
  }
  return bias_;
}

const std::vector<float>& ConvParameters::weight_steps() const {
  if (weight_steps_.empty()) {
    const auto largest = weight.abs().flatten(1).amax(1).clamp_min(1e-12f).contiguous();
    const float* values = largest.data_ptr<float>();
    for (int64_t o = 0; o < largest.size(0); ++o) weight_steps_.push_back(values[o] / 127.0f);
  }
  return weight_steps_;
}

const dnnl::memory& ConvParameters::quantized_weights_as(const dnnl::memory::desc& desc) const {
  for (const auto& [layout, memory] : packed_) {
    if (layout == desc) return memory;
  }
  std::vector<float> inverse;
  for (const float step : weight_steps()) inverse.push_back(1.0f / step);
  packed_.emplace_back(desc, reordered(weight, user_weights_desc(weight, groups), desc, inverse));
  return packed_.back().second;
}

Convolution::Convolution(const ConvParameters& conv, const dnnl::memory::dims& src_dims,
                         const ConvFusion& fusion, const ConvTypes& types) {
  const auto& weight = conv.weight;
  const int64_t kernel = weight.size(2);
  const int64_t padding = kernel == 3 ? 1 : 0;
  dst_dims_ = {src_dims[0], weight.size(0), (src_dims[2] + 2 * padding - kernel) / conv.stride + 1,
               (src_dims[3] + 2 * padding - kernel) / conv.stride + 1};
  const dnnl::memory::desc src_desc(src_dims, types.src, Tag::nhwc);
  const dnnl::memory::desc dst_desc(dst_dims_, types.dst, Tag::nhwc);
  const auto bias_desc = conv.bias.defined()
                             ? dnnl::memory::desc({conv.bias.size(0)}, Type::f32, Tag::a)
                             : dnnl::memory::desc();
  const dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_desc,
      any_weights_desc(weight, conv.groups, types.src), bias_desc, dst_desc,
      {conv.stride, conv.stride}, {padding, padding}, {padding, padding});

  dnnl::post_ops post_ops;
  if (fusion.accumulate) post_ops.append_sum(1.0f);
  // oneDNN 2.6's SSE4.1 and AVX 1x1 kernels apply a binary post-op wrongly where the output
  // channels are not a multiple of 8 (errors of 10 and more at 12 channels; AVX2 and later are
  // right): there the product is taken after the convolution (fp32 only; int8 runs in fp32 below
  // AVX2, see effective_precision).
  multiply_after_ =
      fusion.multiply && types.dst == Type::f32 && dst_dims_[1] % 8 != 0 && !cpu_has_avx2();
  if (fusion.multiply && !multiply_after_) {
    multiply_index_ = post_ops.len();
    other_desc_ =
        types.dst == Type::s8 ? dnnl::memory::desc(dst_dims_, Type::f32, Tag::nhwc) : dst_desc;
    post_ops.append_binary(dnnl::algorithm::binary_mul, other_desc_);
  }
  dnnl::primitive_attr attributes;
  attributes.set_post_ops(post_ops);
  attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const bool int8 = types.src == Type::s8;
  std::vector<float> value_scales;  // int8: accumulator units to values, per output channel
  if (int8) {
    if (conv.groups != 1) throw std::logic_error("int8 convolutions are dense");
    for (const float step : conv.weight_steps()) value_scales.push_back(types.src_step * step);
    auto output_scales = value_scales;
    for (size_t o = 0; o < types.output_multipliers.size(); ++o) {
      output_scales.at(o) *= types.output_multipliers[o];
    }
    attributes.set_output_scales(1 << 1, output_scales);
  }
  pd_ = dnnl::convolution_forward::primitive_desc(desc, attributes, cpu_engine());
  primitive_ = dnnl::convolution_forward(pd_);

  arguments_[DNNL_ARG_WEIGHTS] =
      int8 ? conv.quantized_weights_as(pd_.weights_desc()) : conv.weights_as(pd_.weights_desc());
  if (conv.bias.defined() && int8) {
    // oneDNN 2.x adds the bias to the accumulator before the output scales (and multipliers).
    const auto scales = torch::from_blob(value_scales.data(), {conv.bias.size(0)});
    const auto in_accumulator_units = conv.bias / scales;
    int8_bias_ = reordered(in_accumulator_units, bias_desc, bias_desc);
    arguments_[DNNL_ARG_BIAS] = int8_bias_;
  } else if (conv.bias.defined()) {
    arguments_[DNNL_ARG_BIAS] = conv.bias_memory();
  }
  user_weights_desc_ = user_weights_desc(weight, conv.groups);
}

void Convolution::run(dnnl::stream& stream, const void* src, void* dst, void* scratchpad,
                      const void* other) const {
  auto arguments = arguments_;
  const auto& engine = cpu_engine();
  arguments[DNNL_ARG_SRC] = dnnl::memory(pd_.src_desc(), engine, const_cast<void*>(src));
  arguments[DNNL_ARG_DST] = dnnl::memory(pd_.dst_desc(), engine, dst);
  arguments[DNNL_ARG_SCRATCHPAD] = dnnl::memory(pd_.scratchpad_desc(), engine, scratchpad);
  if (multiply_index_ >= 0) {
    arguments[DNNL_ARG_ATTR_MULTIPLE_POST_OP(multiply_index_) | DNNL_ARG_SRC_1] =
        dnnl::memory(other_desc_, engine, const_cast<void*>(other));
  }
  primitive_.execute(stream, arguments);
  if (multiply_after_) {
    stream.wait();
    const int64_t values = dst_dims_[0] * dst_dims_[1] * dst_dims_[2] * dst_dims_[3];
    torch::from_blob(dst, {values}).mul_(torch::from_blob(const_cast<void*>(other), {values}));
  }
}

void Convolution::repack_weights(dnnl::stream& stream, const torch::Tensor& weight) {
  const auto& desc = pd_.weights_desc();
  if (!own_weights_) {
    own_weights_ = dnnl::memory(desc, cpu_engine());
    arguments_[DNNL_ARG_WEIGHTS] = own_weights_;
  }
  auto plain = weight.contiguous();
  dnnl::memory source(user_weights_desc_, cpu_engine(), plain.data_ptr<float>());
  dnnl::reorder(source, own_weights_).execute(stream, source, own_weights_);
  stream.wait();  // `plain` is freed on return
}

}  // namespace ern::inference
