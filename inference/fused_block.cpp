#include "inference/fused_block.h"

#include "inference/pixel_kernels.h"

namespace ern::inference {
namespace {

using Type = dnnl::memory::data_type;

constexpr float kLayerNormEpsilon = 1e-6f;  // LayerNorm2d's

dnnl::memory::dims one_image(dnnl::memory::dims dims) {
  dims[0] = 1;
  return dims;
}

// The types of a block's convolutions: inside the block (bf16 in the bf16 mode) and into the
// residual stream x (fp32 always).
ConvTypes inside(bool bf16) {
  const auto type = bf16 ? Type::bf16 : Type::f32;
  return {type, type};
}
ConvTypes into_residual(bool bf16) { return {bf16 ? Type::bf16 : Type::f32, Type::f32}; }

}  // namespace

BlockPlan::BlockPlan(const BlockParameters& block, const dnnl::memory::dims& dims,
                     Precision precision)
    : block_(block),
      dims_(dims),
      bf16_(precision == Precision::kBf16),
      scale_weights_(block.channel_attention && dims[2] * dims[3] >= dims[1]),
      pointwise_(block.conv1, dims, {}, inside(bf16_)),
      depthwise_(block.conv2, pointwise_.dst_dims(), {}, inside(bf16_)),
      project_(block.conv3, scale_weights_ ? one_image(dims) : dims, ConvFusion::accumulated(),
               into_residual(bf16_)),
      feed_gate_(block.conv4b, dims, {}, inside(bf16_)),
      feed_(block.conv4a, dims, ConvFusion::times_tensor(), inside(bf16_)),
      feed_out_(block.conv5, dims, ConvFusion::accumulated(), into_residual(bf16_)) {
  if (block.layer_norm && !bf16_) {
    // Over the channels of each pixel: a [pixels, channels] matrix normalized row by row.
    const dnnl::memory::desc rows({dims[0] * dims[2] * dims[3], dims[1]}, Type::f32,
                                  dnnl::memory::format_tag::ab);
    dnnl::primitive_attr attributes;
    attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    layer_norm_pd_ = dnnl::layer_normalization_forward::primitive_desc(
        {dnnl::prop_kind::forward_inference, rows, kLayerNormEpsilon,
         dnnl::normalization_flags::none},
        attributes, cpu_engine());
    layer_norm_.emplace(layer_norm_pd_);
  }
}

size_t BlockPlan::scratchpad_bytes() const {
  size_t bytes = std::max({pointwise_.scratchpad_bytes(), depthwise_.scratchpad_bytes(),
                           project_.scratchpad_bytes(), feed_gate_.scratchpad_bytes(),
                           feed_.scratchpad_bytes(), feed_out_.scratchpad_bytes()});
  if (layer_norm_) bytes = std::max(bytes, layer_norm_pd_.scratchpad_desc().get_size());
  return bytes;
}

const void* BlockPlan::normalize(dnnl::stream& stream, const float* x, const Scratch& scratch) {
  if (bf16_) {
    stream.wait();  // x is written by the convolution before
    to_bf16(x, static_cast<uint16_t*>(scratch.normalized), dims_[0] * dims_[2] * dims_[3], dims_[1],
            block_.layer_norm, kLayerNormEpsilon);
    return scratch.normalized;
  }
  if (!layer_norm_) return x;
  const auto& engine = cpu_engine();
  const auto& rows = layer_norm_pd_.src_desc();
  layer_norm_->execute(stream, {{DNNL_ARG_SRC, dnnl::memory(rows, engine, const_cast<float*>(x))},
                                {DNNL_ARG_DST, dnnl::memory(rows, engine, scratch.normalized)},
                                {DNNL_ARG_SCRATCHPAD, dnnl::memory(layer_norm_pd_.scratchpad_desc(),
                                                                   engine, scratch.scratchpad)}});
  return scratch.normalized;
}

void BlockPlan::gate(const Scratch& scratch) {
  const int64_t images = dims_[0], channels = dims_[1], pixels = dims_[2] * dims_[3];
  float* means = block_.channel_attention ? scratch.means : nullptr;
  if (bf16_) {
    simple_gate_bf16(static_cast<const uint16_t*>(scratch.expanded),
                     static_cast<uint16_t*>(scratch.gated), images, pixels, channels, means);
  } else {
    simple_gate(static_cast<const float*>(scratch.expanded), static_cast<float*>(scratch.gated),
                images, pixels, channels, means);
  }
}

void BlockPlan::scale_gated(const Scratch& scratch, const torch::Tensor& scales) {
  const int64_t images = dims_[0], channels = dims_[1], pixels = dims_[2] * dims_[3];
  if (bf16_) {
    scale_channels_bf16(static_cast<uint16_t*>(scratch.gated), scales.data_ptr<float>(), images,
                        pixels, channels);
  } else {
    scale_channels(static_cast<float*>(scratch.gated), scales.data_ptr<float>(), images, pixels,
                   channels);
  }
}

void* BlockPlan::gated_image(const Scratch& scratch, int64_t image) const {
  const int64_t values = image * dims_[1] * dims_[2] * dims_[3];
  return static_cast<char*>(scratch.gated) + values * (bf16_ ? 2 : 4);
}

void BlockPlan::run(dnnl::stream& stream, float* x, const Scratch& scratch) {
  const int64_t images = dims_[0], channels = dims_[1], pixels = dims_[2] * dims_[3];
  pointwise_.run(stream, normalize(stream, x, scratch), scratch.pointwise, scratch.scratchpad);
  depthwise_.run(stream, scratch.pointwise, scratch.expanded, scratch.scratchpad);
  stream.wait();
  gate(scratch);
  if (block_.channel_attention) {
    const auto means = torch::from_blob(scratch.means, {images, channels});
    const auto scales = torch::addmm(block_.attention_bias, means, block_.attention_weight.t());
    if (scale_weights_) {
      // conv3(g * s) == (conv3's weight scaled by s along its inputs)(g), one image at a time.
      for (int64_t image = 0; image < images; ++image) {
        project_.repack_weights(stream, block_.conv3.weight * scales[image].view({1, -1, 1, 1}));
        project_.run(stream, gated_image(scratch, image), x + image * pixels * channels,
                     scratch.scratchpad);
      }
      return feed_forward(stream, x, scratch);
    }
    scale_gated(scratch, scales);
  }
  project_.run(stream, scratch.gated, x, scratch.scratchpad);
  feed_forward(stream, x, scratch);
}

void BlockPlan::feed_forward(dnnl::stream& stream, float* x, const Scratch& scratch) {
  const void* normalized = normalize(stream, x, scratch);
  feed_gate_.run(stream, normalized, scratch.expanded, scratch.scratchpad);
  feed_.run(stream, normalized, scratch.gated, scratch.scratchpad, scratch.expanded);
  feed_out_.run(stream, scratch.gated, x, scratch.scratchpad);
}

}  // namespace ern::inference
