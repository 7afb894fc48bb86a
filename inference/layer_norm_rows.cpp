#include "inference/layer_norm_rows.h"

#include "inference/dnnl_convolution.h"
#include "inference/int8_spans.h"

namespace ern::inference {
namespace {

dnnl::layer_normalization_forward::primitive_desc rows_pd(int64_t pixels, int64_t channels) {
  const dnnl::memory::desc rows({pixels, channels}, dnnl::memory::data_type::f32,
                                dnnl::memory::format_tag::ab);
  dnnl::primitive_attr attributes;
  attributes.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return {{dnnl::prop_kind::forward_inference, rows, kLayerNormEpsilon,
           dnnl::normalization_flags::none},
          attributes,
          cpu_engine()};
}

}  // namespace

LayerNormRows::LayerNormRows(int64_t pixels, int64_t channels)
    : pd_(rows_pd(pixels, channels)), primitive_(pd_) {}

void LayerNormRows::run(dnnl::stream& stream, const float* x, float* out, void* scratchpad) const {
  const auto& engine = cpu_engine();
  const auto& rows = pd_.src_desc();
  primitive_.execute(
      stream, {{DNNL_ARG_SRC, dnnl::memory(rows, engine, const_cast<float*>(x))},
               {DNNL_ARG_DST, dnnl::memory(rows, engine, out)},
               {DNNL_ARG_SCRATCHPAD, dnnl::memory(pd_.scratchpad_desc(), engine, scratchpad)}});
}

NormalizedRows::NormalizedRows(int64_t pixels, int64_t channels, bool layer_norm, float int8_step)
    : pixels_(pixels), channels_(channels), has_layer_norm_(layer_norm), int8_step_(int8_step) {
  if (layer_norm && int8_step == 0.0f) layer_norm_.emplace(pixels, channels);
}

const void* NormalizedRows::run(dnnl::stream& stream, const float* x, void* out,
                                void* scratchpad) const {
  if (int8_step_ > 0.0f) {
    int8::normalize(x, static_cast<int8_t*>(out), pixels_, channels_, has_layer_norm_,
                    kLayerNormEpsilon, 1.0f / int8_step_);
    return out;
  }
  if (!layer_norm_) return x;
  layer_norm_->run(stream, x, static_cast<float*>(out), scratchpad);
  return out;
}

}  // namespace ern::inference
