#include "inference/tiled_block_tail.h"

#include <ATen/Parallel.h>

#include "inference/fused_block.h"
#include "inference/int8_spans.h"
#include "inference/openmp_threads.h"
#include "inference/tiling.h"

namespace ern::inference {
namespace {

// Values per tile and intermediate (128 KiB of fp32): a tile's five arrays (x, g, the normalized,
// the gate and the product) stay within a core's L2 cache with room for the weights.
constexpr int64_t kTileValues = 32 * 1024;
int64_t tile_pixels_for(int64_t channels) { return std::max<int64_t>(16, kTileValues / channels); }

dnnl::memory::dims tile_dims(int64_t pixels, int64_t channels) { return {1, channels, 1, pixels}; }

}  // namespace

bool TiledBlockTail::suits(int64_t pixels, int64_t channels) {
  const int64_t tiles = pixels / tile_pixels_for(channels);
  return pixels * channels * static_cast<int64_t>(sizeof(float)) >= kUntiledActivationBytes &&
         tiles >= 4 * at::get_num_threads();
}

TiledBlockTail::TileSteps::TileSteps(const BlockParameters& block, int64_t pixels, int64_t channels,
                                     const TailPrecision& precision)
    : pixels(pixels),
      channels(channels),
      quantized(precision.feed_input_step > 0.0f),
      feed_input(pixels, channels, block.layer_norm, precision.feed_input_step),
      project(block.conv3, tile_dims(pixels, channels), ConvFusion::accumulated(),
              precision.project),
      feed_gate(block.conv4b, tile_dims(pixels, channels), {}, precision.feed_gate),
      feed(block.conv4a, tile_dims(pixels, channels), ConvFusion::times_tensor(), precision.feed),
      feed_out(block.conv5, tile_dims(pixels, channels), ConvFusion::accumulated(),
               precision.feed_out) {}

size_t TiledBlockTail::TileSteps::scratchpad_bytes() const {
  return std::max({project.scratchpad_bytes(), feed_gate.scratchpad_bytes(),
                   feed.scratchpad_bytes(), feed_out.scratchpad_bytes(),
                   feed_input.scratchpad_bytes()});
}

void TiledBlockTail::TileSteps::run(dnnl::stream& stream, const float* gated, float* x,
                                    void* normalized, float* gate, void* product, void* scratchpad,
                                    const float* projection_factors) const {
  const void* projection_input = gated;
  if (quantized) {  // (product is free until conv4a writes it)
    int8::scale(gated, static_cast<int8_t*>(product), projection_factors, pixels, channels);
    projection_input = product;
  }
  project.run(stream, projection_input, x, scratchpad);
  const void* input = feed_input.run(stream, x, normalized, scratchpad);
  feed_gate.run(stream, input, gate, scratchpad);
  feed.run(stream, input, product, scratchpad, gate);
  feed_out.run(stream, product, x, scratchpad);
}

TiledBlockTail::TiledBlockTail(const BlockParameters& block, int64_t pixels, int64_t channels,
                               const TailPrecision& precision)
    : pixels_(pixels),
      channels_(channels),
      tile_pixels_(std::min(pixels, tile_pixels_for(channels))) {
  {
    // Made for one thread each: the OpenMP team size when a primitive is made sets its work split.
    SingleThreadedScope one_thread;
    whole_.emplace(block, tile_pixels_, channels, precision);
    if (const int64_t rest = pixels % tile_pixels_) {
      remainder_.emplace(block, rest, channels, precision);
    }
  }
  const size_t scratchpad =
      std::max(whole_->scratchpad_bytes(), remainder_ ? remainder_->scratchpad_bytes() : 0);
  thread_bytes_ = 3 * cache_line_aligned(tile_pixels_ * channels * sizeof(float)) +
                  cache_line_aligned(scratchpad);
}

void TiledBlockTail::set_projection_weights(dnnl::stream& stream, const torch::Tensor& weight) {
  whole_->project.repack_weights(stream, weight);
  if (remainder_) remainder_->project.repack_weights(stream, weight);
}

void TiledBlockTail::run(const float* gated, float* x, void* scratch,
                         const float* projection_factors) const {
  const int64_t tiles = (pixels_ + tile_pixels_ - 1) / tile_pixels_;
  const size_t array_bytes = cache_line_aligned(tile_pixels_ * channels_ * sizeof(float));
  // Each thread takes a contiguous run of tiles (OpenMP's static split).
  at::parallel_for(0, tiles, 1, [&](int64_t first, int64_t last) {
    auto* own = static_cast<char*>(scratch) + at::get_thread_num() * thread_bytes_;
    void* normalized = own;
    auto* gate = reinterpret_cast<float*>(own + array_bytes);
    void* product = own + 2 * array_bytes;
    void* scratchpad = own + 3 * array_bytes;
    dnnl::stream stream(cpu_engine());
    for (int64_t tile = first; tile < last; ++tile) {
      const int64_t offset = tile * tile_pixels_ * channels_;
      const bool narrower = remainder_ && tile == tiles - 1;
      (narrower ? *remainder_ : *whole_)
          .run(stream, gated + offset, x + offset, normalized, gate, product, scratchpad,
               projection_factors);
    }
    stream.wait();
  });
}

}  // namespace ern::inference
