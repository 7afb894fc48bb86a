#include "inference/fused_block.h"

#include "inference/pixel_kernels.h"

namespace ern::inference {
namespace {

constexpr float kLayerNormEpsilon = 1e-6f;  // LayerNorm2d's

dnnl::memory::dims one_image(dnnl::memory::dims dims) {
  dims[0] = 1;
  return dims;
}

}  // namespace

BlockPlan::BlockPlan(const BlockParameters& block, const dnnl::memory::dims& dims)
    : block_(block),
      dims_(dims),
      scale_weights_(block.channel_attention && dims[2] * dims[3] >= dims[1]),
      pointwise_(block.conv1, dims),
      depthwise_(block.conv2, pointwise_.dst_dims()),
      project_(block.conv3, scale_weights_ ? one_image(dims) : dims, ConvFusion::accumulated()),
      feed_gate_(block.conv4b, dims),
      feed_(block.conv4a, dims, ConvFusion::times_tensor()),
      feed_out_(block.conv5, dims, ConvFusion::accumulated()) {
  if (block.layer_norm) {
    // Over the channels of each pixel: a [pixels, channels] matrix normalized row by row.
    const dnnl::memory::desc rows({dims[0] * dims[2] * dims[3], dims[1]},
                                  dnnl::memory::data_type::f32, dnnl::memory::format_tag::ab);
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

const float* BlockPlan::normalize(dnnl::stream& stream, const float* x, const Scratch& scratch) {
  if (!layer_norm_) return x;
  const auto& engine = cpu_engine();
  const auto& rows = layer_norm_pd_.src_desc();
  layer_norm_->execute(stream, {{DNNL_ARG_SRC, dnnl::memory(rows, engine, const_cast<float*>(x))},
                                {DNNL_ARG_DST, dnnl::memory(rows, engine, scratch.normalized)},
                                {DNNL_ARG_SCRATCHPAD, dnnl::memory(layer_norm_pd_.scratchpad_desc(),
                                                                   engine, scratch.scratchpad)}});
  return scratch.normalized;
}

void BlockPlan::run(dnnl::stream& stream, float* x, const Scratch& scratch) {
  const int64_t images = dims_[0], channels = dims_[1], pixels = dims_[2] * dims_[3];
  pointwise_.run(stream, normalize(stream, x, scratch), scratch.pointwise, scratch.scratchpad);
  depthwise_.run(stream, scratch.pointwise, scratch.expanded, scratch.scratchpad);
  stream.wait();
  simple_gate(scratch.expanded, scratch.gated, images, pixels, channels,
              block_.channel_attention ? scratch.means : nullptr);
  if (block_.channel_attention) {
    const auto means = torch::from_blob(scratch.means, {images, channels});
    const auto scales = torch::addmm(block_.attention_bias, means, block_.attention_weight.t());
    if (scale_weights_) {
      // conv3(g * s) == (conv3's weight scaled by s along its inputs)(g), one image at a time.
      for (int64_t image = 0; image < images; ++image) {
        project_.repack_weights(stream, block_.conv3.weight * scales[image].view({1, -1, 1, 1}));
        project_.run(stream, scratch.gated + image * pixels * channels,
                     x + image * pixels * channels, scratch.scratchpad);
      }
      return feed_forward(stream, x, scratch);
    }
    scale_channels(scratch.gated, scales.data_ptr<float>(), images, pixels, channels);
  }
  project_.run(stream, scratch.gated, x, scratch.scratchpad);
  feed_forward(stream, x, scratch);
}

void BlockPlan::feed_forward(dnnl::stream& stream, float* x, const Scratch& scratch) {
  const float* normalized = normalize(stream, x, scratch);
  feed_gate_.run(stream, normalized, scratch.expanded, scratch.scratchpad);
  feed_.run(stream, normalized, scratch.gated, scratch.scratchpad, scratch.expanded);
  feed_out_.run(stream, scratch.gated, x, scratch.scratchpad);
}

}  // namespace ern::inference
