#include "inference/fused_block.h"

#include "inference/pixel_kernels.h"

namespace ern::inference {
namespace {

using Type = dnnl::memory::data_type;

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
// 127 / range of each channel: values to int8 steps.
std::vector<float> inverse_steps(const std::vector<float>& ranges) {
  std::vector<float> inverse;
  for (const float range : ranges) inverse.push_back(127.0f / range);
  return inverse;
}
// conv4's two halves: int8 writes conv4b's outputs in conv5's input steps and conv4a's product
// with them as conv5's int8 input, so the gate needs no quantization pass of its own.
ConvTypes feed_gate_types(Precision precision, const ActivationRanges& ranges) {
  auto types = dense(precision, ranges.feed_input);
  if (precision == Precision::kInt8)
    types.output_multipliers = inverse_steps(ranges.feed_output_input);
  return types;
}
ConvTypes feed_types(Precision precision, const ActivationRanges& ranges) {
  auto types = dense(precision, ranges.feed_input);
  if (precision == Precision::kInt8) types.dst = Type::s8;
  return types;
}
ConvTypes into_residual(Precision precision, float range) {
  auto types = dense(precision, range);
  types.dst = Type::f32;
  return types;
}

}  // namespace

void equalize_int8_inputs(BlockParameters& block) {
  const auto fold = [&](ConvParameters& conv, const std::vector<float>& ranges,
                        const std::string& field) {
    if (static_cast<int64_t>(ranges.size()) != conv.weight.size(1)) {
      throw std::invalid_argument("metadata.int8_calibration." + block.name + "." + field +
                                  ": has " + std::to_string(ranges.size()) + " ranges, the block " +
                                  std::to_string(conv.weight.size(1)) + " channels");
    }
    const auto steps = torch::tensor(ranges) / 127.0f;
    conv.weight = conv.weight * steps.view({1, -1, 1, 1});
  };
  fold(block.conv3, block.int8_ranges.projection_input, "projection_input");
  fold(block.conv5, block.int8_ranges.feed_output_input, "feed_output_input");
}

BlockPlan::BlockPlan(const BlockParameters& block, const dnnl::memory::dims& dims,
                     Precision precision, Tiling tiling)
    : block_(block),
      dims_(dims),
      bf16_(precision == Precision::kBf16),
      int8_(precision == Precision::kInt8),
      // (int8 weights are quantized once: the scale goes onto the gated values.)
      scale_weights_(block.channel_attention && !int8_ && dims[2] * dims[3] >= dims[1]),
      pointwise_(block.conv1, dims, {}, dense(precision, block.int8_ranges.attention_input)),
      depthwise_(block.conv2, pointwise_.dst_dims(), {}, depth_wise(precision)),
      // (conv3's and conv5's int8 inputs are in steps of 1: equalize_int8_inputs moved each
      // channel's step into their weights.)
      project_(block.conv3, scale_weights_ ? one_image(dims) : dims, ConvFusion::accumulated(),
               into_residual(precision, 127.0f)),
      feed_gate_(block.conv4b, dims, {}, feed_gate_types(precision, block.int8_ranges)),
      feed_(block.conv4a, dims, ConvFusion::times_tensor(),
            feed_types(precision, block.int8_ranges)),
      feed_out_(block.conv5, dims, ConvFusion::accumulated(), into_residual(precision, 127.0f)) {
  if (int8_) projection_inverse_steps_ = inverse_steps(block.int8_ranges.projection_input);
  if (block.layer_norm && !bf16_ && !int8_) {
    layer_norm_.emplace(dims[0] * dims[2] * dims[3], dims[1]);
  }
  if (bf16_ || tiling == Tiling::kNever) return;
  const auto& ranges = block.int8_ranges;
  if (TiledBlockHead::suits(dims[2], dims[3], dims[1])) {
    head_.emplace(block, dims[2], dims[3], dims[1],
                  HeadPrecision{dense(precision, ranges.attention_input),
                                int8_ ? int8_step(ranges.attention_input) : 0.0f});
  }
  // With channel attention the tail runs image by image (its scale differs); fp32 folds the
  // scale into conv3's weights, which takes as many pixels as channels.
  const int64_t tail_pixels = (block.channel_attention ? 1 : dims[0]) * dims[2] * dims[3];
  if ((scale_weights_ || int8_ || !block.channel_attention) &&
      TiledBlockTail::suits(tail_pixels, dims[1])) {
    tail_.emplace(
        block, tail_pixels, dims[1],
        TailPrecision{into_residual(precision, 127.0f), feed_gate_types(precision, ranges),
                      feed_types(precision, ranges), into_residual(precision, 127.0f),
                      int8_ ? int8_step(ranges.feed_input) : 0.0f});
  }
}

size_t BlockPlan::scratchpad_bytes() const {
  size_t bytes = std::max({pointwise_.scratchpad_bytes(), depthwise_.scratchpad_bytes(),
                           project_.scratchpad_bytes(), feed_gate_.scratchpad_bytes(),
                           feed_.scratchpad_bytes(), feed_out_.scratchpad_bytes()});
  if (layer_norm_) bytes = std::max(bytes, layer_norm_->scratchpad_bytes());
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
  layer_norm_->run(stream, x, static_cast<float*>(scratch.normalized), scratch.scratchpad);
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

const void* BlockPlan::quantize_gated(const Scratch& scratch, const float* scales,
                                      const std::vector<float>& inverse_steps, void* target) const {
  scaled_to_int8(static_cast<const float*>(scratch.gated), static_cast<int8_t*>(target), scales,
                 inverse_steps.data(), dims_[0], dims_[2] * dims_[3], dims_[1]);
  return target;
}

void* BlockPlan::gated_image(const Scratch& scratch, int64_t image) const {
  const int64_t values = image * dims_[1] * dims_[2] * dims_[3];
  return static_cast<char*>(scratch.gated) + values * (bf16_ ? 2 : 4);
}

void BlockPlan::expand_and_gate(dnnl::stream& stream, const float* x, const Scratch& scratch,
                                ActivationRanges* observed) {
  const void* normalized = normalize(stream, x, scratch, block_.int8_ranges.attention_input);
  if (observed) {
    stream.wait();
    observed->attention_input = std::max(
        observed->attention_input,
        max_abs(static_cast<const float*>(normalized), dims_[0] * dims_[1] * dims_[2] * dims_[3]));
  }
  pointwise_.run(stream, normalized, scratch.pointwise, scratch.scratchpad);
  depthwise_.run(stream, scratch.pointwise, scratch.expanded, scratch.scratchpad);
  stream.wait();
  gate(scratch);
}

void BlockPlan::run(dnnl::stream& stream, float* x, const Scratch& scratch,
                    ActivationRanges* observed) {
  const int64_t images = dims_[0], channels = dims_[1], pixels = dims_[2] * dims_[3];
  if (head_ && !observed) {
    for (int64_t image = 0; image < images; ++image) {
      head_->run(x + image * pixels * channels, static_cast<float*>(gated_image(scratch, image)),
                 block_.channel_attention ? scratch.means + image * channels : nullptr,
                 scratch.tiles);
    }
  } else {
    expand_and_gate(stream, x, scratch, observed);
  }
  const auto* gated = static_cast<const float*>(scratch.gated);
  const void* projection_input = scratch.gated;
  torch::Tensor scales;  // [images, c]: the channel attention's, where the block has one
  if (block_.channel_attention) {
    const auto means = torch::from_blob(scratch.means, {images, channels});
    scales = torch::addmm(block_.attention_bias, means, block_.attention_weight.t());
  }
  if (observed) {
    widen_channel_ranges(gated, scales.defined() ? scales.data_ptr<float>() : nullptr, images,
                         pixels, channels, observed->projection_input);
  } else if (tail_) {
    return run_tail(stream, x, scratch, scales);
  }
  if (scale_weights_) {
    // One image at a time: each its own scale in conv3's weights.
    for (int64_t image = 0; image < images; ++image) {
      project_.repack_weights(stream, scaled_projection_weight(scales, image));
      project_.run(stream, gated_image(scratch, image), x + image * pixels * channels,
                   scratch.scratchpad);
    }
    return feed_forward(stream, x, scratch, observed);
  }
  if (int8_) {
    projection_input =
        quantize_gated(scratch, scales.defined() ? scales.data_ptr<float>() : nullptr,
                       projection_inverse_steps_, scratch.normalized);
  } else if (scales.defined()) {
    scale_gated(scratch, scales);
  }
  project_.run(stream, projection_input, x, scratch.scratchpad);
  feed_forward(stream, x, scratch, observed);
}

torch::Tensor BlockPlan::scaled_projection_weight(const torch::Tensor& scales,
                                                  int64_t image) const {
  // conv3(g * s) == (conv3's weight scaled by s along its inputs)(g).
  return block_.conv3.weight * scales[image].view({1, -1, 1, 1});
}

void BlockPlan::run_tail(dnnl::stream& stream, float* x, const Scratch& scratch,
                         const torch::Tensor& scales) {
  const int64_t channels = dims_[1], pixels = dims_[2] * dims_[3];
  const bool per_image = scales.defined();
  for (int64_t image = 0; image < (per_image ? dims_[0] : 1); ++image) {
    std::vector<float> factors;  // int8: conv3's input steps, times the image's scale
    if (int8_) {
      factors = projection_inverse_steps_;
      const float* scale = per_image ? scales.data_ptr<float>() + image * channels : nullptr;
      for (int64_t k = 0; scale && k < channels; ++k) factors[k] *= scale[k];
    } else if (per_image) {
      tail_->set_projection_weights(stream, scaled_projection_weight(scales, image));
    }
    tail_->run(static_cast<const float*>(gated_image(scratch, image)),
               x + image * pixels * channels, scratch.tiles, int8_ ? factors.data() : nullptr);
  }
}

void BlockPlan::feed_forward(dnnl::stream& stream, float* x, const Scratch& scratch,
                             ActivationRanges* observed) {
  const int64_t values = dims_[0] * dims_[1] * dims_[2] * dims_[3];
  const auto& ranges = block_.int8_ranges;
  const void* normalized = normalize(stream, x, scratch, ranges.feed_input);
  if (observed) {
    stream.wait();
    observed->feed_input =
        std::max(observed->feed_input, max_abs(static_cast<const float*>(normalized), values));
  }
  feed_gate_.run(stream, normalized, scratch.expanded, scratch.scratchpad);
  // int8: conv4a writes conv5's int8 input (the gate in conv5's steps) straight away.
  void* gated = int8_ ? scratch.pointwise : scratch.gated;
  feed_.run(stream, normalized, gated, scratch.scratchpad, scratch.expanded);
  if (observed) {
    stream.wait();
    widen_channel_ranges(static_cast<const float*>(gated), nullptr, dims_[0], dims_[2] * dims_[3],
                         dims_[1], observed->feed_output_input);
  }
  feed_out_.run(stream, gated, x, scratch.scratchpad);
}

}  // namespace ern::inference
