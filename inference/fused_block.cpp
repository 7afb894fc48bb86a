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

// The types of a block's convolutions: a dense one reading an input whose int8 values cover
// [-range, range] (bf16 in and out in the bf16 mode, int8 in and fp32 out in the int8 mode), the
// depth-wise one, and one accumulating into the residual stream x (fp32 out always).
ConvTypes dense(Precision precision, float range) {
  if (precision == Precision::kBf16) return {Type::bf16, Type::bf16};
  if (precision == Precision::kInt8) return ConvTypes::int8_into(Type::f32, int8_step(range));
  return {};
}
ConvTypes depth_wise(Precision precision) {
  return precision == Precision::kBf16 ? ConvTypes{Type::bf16, Type::bf16} : ConvTypes{};
}
ConvTypes into_residual(Precision precision, float range) {
  auto types = dense(precision, range);
  types.dst = Type::f32;
  return types;
}

}  // namespace

BlockPlan::BlockPlan(const BlockParameters& block, const dnnl::memory::dims& dims,
                     Precision precision)
    : block_(block),
      dims_(dims),
      bf16_(precision == Precision::kBf16),
      int8_(precision == Precision::kInt8),
      // (int8 weights are quantized once: the scale goes onto the gated values.)
      scale_weights_(block.channel_attention && !int8_ && dims[2] * dims[3] >= dims[1]),
      pointwise_(block.conv1, dims, {}, dense(precision, block.int8_ranges.attention_input)),
      depthwise_(block.conv2, pointwise_.dst_dims(), {}, depth_wise(precision)),
      project_(block.conv3, scale_weights_ ? one_image(dims) : dims, ConvFusion::accumulated(),
               into_residual(precision, block.int8_ranges.projection_input)),
      feed_gate_(block.conv4b, dims, {}, dense(precision, block.int8_ranges.feed_input)),
      feed_(block.conv4a, dims, ConvFusion::times_tensor(),
            dense(precision, block.int8_ranges.feed_input)),
      feed_out_(block.conv5, dims, ConvFusion::accumulated(),
                into_residual(precision, block.int8_ranges.feed_output_input)) {
  if (block.layer_norm && !bf16_ && !int8_) {
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

const void* BlockPlan::normalize(dnnl::stream& stream, const float* x, const Scratch& scratch,
                                 float range) {
  if (int8_) {
    stream.wait();  // x is written by the convolution before
    to_int8(x, static_cast<int8_t*>(scratch.normalized), dims_[0] * dims_[2] * dims_[3], dims_[1],
            block_.layer_norm, kLayerNormEpsilon, int8_step(range));
    return scratch.normalized;
  }
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

const void* BlockPlan::quantize_gated(const Scratch& scratch, const float* scales, float range,
                                      void* target) const {
  scaled_to_int8(static_cast<const float*>(scratch.gated), static_cast<int8_t*>(target), scales,
                 dims_[0], dims_[2] * dims_[3], dims_[1], int8_step(range));
  return target;
}

void* BlockPlan::gated_image(const Scratch& scratch, int64_t image) const {
  const int64_t values = image * dims_[1] * dims_[2] * dims_[3];
  return static_cast<char*>(scratch.gated) + values * (bf16_ ? 2 : 4);
}

void BlockPlan::run(dnnl::stream& stream, float* x, const Scratch& scratch,
                    ActivationRanges* observed) {
  const int64_t images = dims_[0], channels = dims_[1], pixels = dims_[2] * dims_[3];
  const auto& ranges = block_.int8_ranges;
  const void* normalized = normalize(stream, x, scratch, ranges.attention_input);
  if (observed) {
    stream.wait();
    observed->cover({max_abs(static_cast<const float*>(normalized), images * pixels * channels)});
  }
  pointwise_.run(stream, normalized, scratch.pointwise, scratch.scratchpad);
  depthwise_.run(stream, scratch.pointwise, scratch.expanded, scratch.scratchpad);
  stream.wait();
  gate(scratch);
  const auto* gated = static_cast<const float*>(scratch.gated);
  const void* projection_input = scratch.gated;
  if (block_.channel_attention) {
    const auto means = torch::from_blob(scratch.means, {images, channels});
    const auto scales = torch::addmm(block_.attention_bias, means, block_.attention_weight.t());
    if (observed) {
      observed->cover(
          {0.0f, max_abs_scaled(gated, scales.data_ptr<float>(), images, pixels, channels)});
    }
    if (scale_weights_) {
      // conv3(g * s) == (conv3's weight scaled by s along its inputs)(g), one image at a time.
      for (int64_t image = 0; image < images; ++image) {
        project_.repack_weights(stream, block_.conv3.weight * scales[image].view({1, -1, 1, 1}));
        project_.run(stream, gated_image(scratch, image), x + image * pixels * channels,
                     scratch.scratchpad);
      }
      return feed_forward(stream, x, scratch, observed);
    }
    if (int8_) {
      projection_input = quantize_gated(scratch, scales.data_ptr<float>(), ranges.projection_input,
                                        scratch.normalized);
    } else {
      scale_gated(scratch, scales);
    }
  } else if (observed) {
    observed->cover({0.0f, max_abs(gated, images * pixels * channels)});
  } else if (int8_) {
    projection_input =
        quantize_gated(scratch, nullptr, ranges.projection_input, scratch.normalized);
  }
  project_.run(stream, projection_input, x, scratch.scratchpad);
  feed_forward(stream, x, scratch, observed);
}

void BlockPlan::feed_forward(dnnl::stream& stream, float* x, const Scratch& scratch,
                             ActivationRanges* observed) {
  const int64_t values = dims_[0] * dims_[1] * dims_[2] * dims_[3];
  const auto& ranges = block_.int8_ranges;
  const void* normalized = normalize(stream, x, scratch, ranges.feed_input);
  if (observed) {
    stream.wait();
    observed->cover({0.0f, 0.0f, max_abs(static_cast<const float*>(normalized), values)});
  }
  feed_gate_.run(stream, normalized, scratch.expanded, scratch.scratchpad);
  feed_.run(stream, normalized, scratch.gated, scratch.scratchpad, scratch.expanded);
  const void* output_input = scratch.gated;
  if (observed || int8_) stream.wait();
  if (observed) {
    observed->cover({0.0f, 0.0f, 0.0f, max_abs(static_cast<const float*>(scratch.gated), values)});
  }
  if (int8_) {
    output_input = quantize_gated(scratch, nullptr, ranges.feed_output_input, scratch.pointwise);
  }
  feed_out_.run(stream, output_input, x, scratch.scratchpad);
}

}  // namespace ern::inference
