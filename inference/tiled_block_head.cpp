#include "inference/tiled_block_head.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>

#include "inference/fp32_spans.h"
#include "inference/fused_block.h"
#include "inference/openmp_threads.h"
#include "inference/tiling.h"

namespace ern::inference {
namespace {

// conv1's output values a strip aims at (256 KiB of fp32): with its normalized input and the
// gated rows it stays within a core's L2 cache.
constexpr int64_t kStripValues = 64 * 1024;
constexpr int64_t kMaxStripRows = 16;

int64_t strip_rows_for(int64_t width, int64_t channels) {
  return std::clamp<int64_t>(kStripValues / (width * 2 * channels), 1, kMaxStripRows);
}

}  // namespace

bool TiledBlockHead::suits(int64_t height, int64_t width, int64_t channels) {
  return height * width * channels * static_cast<int64_t>(sizeof(float)) >=
             kUntiledActivationBytes &&
         height >= 4 * strip_rows_for(width, channels) * at::get_num_threads();
}

TiledBlockHead::RowSteps::RowSteps(const BlockParameters& block, int64_t rows, int64_t width,
                                   int64_t channels, const HeadPrecision& precision)
    : input(rows * width, channels, block.layer_norm, precision.input_step),
      pointwise(block.conv1, {1, channels, rows, width}, {}, precision.pointwise) {}

size_t TiledBlockHead::RowSteps::scratchpad_bytes() const {
  return std::max(pointwise.scratchpad_bytes(), input.scratchpad_bytes());
}

void TiledBlockHead::RowSteps::run(dnnl::stream& stream, const float* x, void* normalized,
                                   float* out, void* scratchpad) const {
  pointwise.run(stream, input.run(stream, x, normalized, scratchpad), out, scratchpad);
}

TiledBlockHead::TiledBlockHead(const BlockParameters& block, int64_t height, int64_t width,
                               int64_t channels, const HeadPrecision& precision)
    : height_(height),
      width_(width),
      channels_(channels),
      strip_rows_(std::min(height, strip_rows_for(width, channels))) {
  {
    // Made for one thread each: the OpenMP team size when a primitive is made sets its work split.
    SingleThreadedScope one_thread;
    strip_.emplace(block, strip_rows_, width, channels, precision);
    if (strip_rows_ > 1) one_row_.emplace(block, 1, width, channels, precision);
  }
  // conv2's weights [2c, 1, 3, 3] tap by tap.
  const auto weight = block.conv2.weight.to(torch::kFloat).reshape({2 * channels, 9}).t();
  const auto tap_major = weight.contiguous();
  depthwise_weights_.assign(tap_major.data_ptr<float>(),
                            tap_major.data_ptr<float>() + tap_major.numel());
  const auto bias = block.conv2.bias.to(torch::kFloat).contiguous();
  depthwise_bias_.assign(bias.data_ptr<float>(), bias.data_ptr<float>() + bias.numel());

  const size_t row_bytes = width * channels * sizeof(float);
  normalized_bytes_ = cache_line_aligned(strip_rows_ * row_bytes);
  expanded_bytes_ = cache_line_aligned((strip_rows_ + 2) * 2 * row_bytes);
  sums_bytes_ = cache_line_aligned(channels * sizeof(float));
  const size_t scratchpad =
      std::max(strip_->scratchpad_bytes(), one_row_ ? one_row_->scratchpad_bytes() : 0);
  thread_bytes_ =
      normalized_bytes_ + expanded_bytes_ + cache_line_aligned(scratchpad) + sums_bytes_;
}

void TiledBlockHead::run(const float* x, float* gated, float* means, void* scratch) const {
  const int threads = at::get_num_threads();
  const auto sums_of = [&](int thread) {
    return reinterpret_cast<float*>(static_cast<char*>(scratch) + (thread + 1) * thread_bytes_ -
                                    sums_bytes_);
  };
  if (means) {
    for (int thread = 0; thread < threads; ++thread) {
      std::fill(sums_of(thread), sums_of(thread) + channels_, 0.0f);
    }
  }
  // Each thread one contiguous band of rows (OpenMP's static split).
  at::parallel_for(0, height_, 1, [&](int64_t first, int64_t last) {
    const int thread = at::get_thread_num();
    run_band(x, gated, means ? sums_of(thread) : nullptr, first, last,
             static_cast<char*>(scratch) + thread * thread_bytes_);
  });
  if (!means) return;
  std::fill(means, means + channels_, 0.0f);
  for (int thread = 0; thread < threads; ++thread) {
    for (int64_t k = 0; k < channels_; ++k) means[k] += sums_of(thread)[k];
  }
  for (int64_t k = 0; k < channels_; ++k) means[k] /= static_cast<float>(height_ * width_);
}

void TiledBlockHead::run_band(const float* x, float* gated, float* sums, int64_t first,
                              int64_t last, char* scratch) const {
  const int64_t row_values = width_ * channels_;  // of x and g; conv1's rows hold twice as many
  void* normalized = scratch;
  auto* expanded = reinterpret_cast<float*>(scratch + normalized_bytes_);
  void* scratchpad = scratch + normalized_bytes_ + expanded_bytes_;
  dnnl::stream stream(cpu_engine());
  // `expanded` holds conv1's output rows base .. ready - 1, row base first.
  int64_t base = first - 1, ready = std::max<int64_t>(first - 1, 0);
  const auto expand_until = [&](int64_t end) {
    while (ready < end) {
      const bool strip = end - ready >= strip_rows_;
      (strip ? *strip_ : *one_row_)
          .run(stream, x + ready * row_values, normalized,
               expanded + (ready - base) * 2 * row_values, scratchpad);
      ready += strip ? strip_rows_ : 1;
    }
  };
  for (int64_t start = first; start < last; start += strip_rows_) {
    const int64_t end = std::min(last, start + strip_rows_);
    expand_until(std::min(end + 1, height_));  // conv2 reads one row below the strip
    for (int64_t y = start; y < end; ++y) {
      const float* rows[3];
      for (int64_t ky = 0; ky < 3; ++ky) {
        const int64_t row = y + ky - 1;
        rows[ky] = row >= 0 && row < height_ ? expanded + (row - base) * 2 * row_values : nullptr;
      }
      fp32::depthwise_gate_row(rows, depthwise_weights_.data(), depthwise_bias_.data(),
                               gated + y * row_values, sums, width_, channels_);
    }
    // The next strip reads from row end - 1 on.
    std::memmove(expanded, expanded + (end - 1 - base) * 2 * row_values,
                 (ready - (end - 1)) * 2 * row_values * sizeof(float));
    base = end - 1;
  }
}

}  // namespace ern::inference
