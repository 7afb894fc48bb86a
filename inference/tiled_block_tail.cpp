#include "inference/tiled_block_tail.h"

#include <ATen/Parallel.h>

#include "inference/fused_block.h"
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

TiledBlockTail::TileSteps::TileSteps(const BlockParameters& block, int64_t pixels, int64_t channels)
    : project(block.conv3, tile_dims(pixels, channels), ConvFusion::accumulated()),
      feed_gate(block.conv4b, tile_dims(pixels, channels)),
      feed(block.conv4a, tile_dims(pixels, channels), ConvFusion::times_tensor()),
      feed_out(block.conv5, tile_dims(pixels, channels), ConvFusion::accumulated()) {
  if (block.layer_norm) layer_norm.emplace(pixels, channels);
}

size_t TiledBlockTail::TileSteps::scratchpad_bytes() const {
  size_t bytes = std::max({project.scratchpad_bytes(), feed_gate.scratchpad_bytes(),
                           feed.scratchpad_bytes(), feed_out.scratchpad_bytes()});
  if (layer_norm) bytes = std::max(bytes, layer_norm->scratchpad_bytes());
  return bytes;
}

void TiledBlockTail::TileSteps::run(dnnl::stream& stream, const float* gated, float* x,
                                    float* normalized, float* gate, float* product,
                                    void* scratchpad) const {
  project.run(stream, gated, x, scratchpad);
  if (layer_norm) layer_norm->run(stream, x, normalized, scratchpad);
  const float* feed_input = layer_norm ? normalized : x;
  feed_gate.run(stream, feed_input, gate, scratchpad);
  feed.run(stream, feed_input, product, scratchpad, gate);
  feed_out.run(stream, product, x, scratchpad);
}

TiledBlockTail::TiledBlockTail(const BlockParameters& block, int64_t pixels, int64_t channels)
    : pixels_(pixels),
      channels_(channels),
      tile_pixels_(std::min(pixels, tile_pixels_for(channels))) {
  {
    // Made for one thread each: the OpenMP team size when a primitive is made sets its work split.
    SingleThreadedScope one_thread;
    whole_.emplace(block, tile_pixels_, channels);
    if (const int64_t rest = pixels % tile_pixels_) remainder_.emplace(block, rest, channels);
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

void TiledBlockTail::run(const float* gated, float* x, void* scratch) const {
  const int64_t tiles = (pixels_ + tile_pixels_ - 1) / tile_pixels_;
  const size_t array_bytes = cache_line_aligned(tile_pixels_ * channels_ * sizeof(float));
  // Each thread takes a contiguous run of tiles (OpenMP's static split).
  at::parallel_for(0, tiles, 1, [&](int64_t first, int64_t last) {
    auto* own = static_cast<char*>(scratch) + at::get_thread_num() * thread_bytes_;
    auto* normalized = reinterpret_cast<float*>(own);
    auto* gate = reinterpret_cast<float*>(own + array_bytes);
    auto* product = reinterpret_cast<float*>(own + 2 * array_bytes);
    void* scratchpad = own + 3 * array_bytes;
    dnnl::stream stream(cpu_engine());
    for (int64_t tile = first; tile < last; ++tile) {
      const int64_t offset = tile * tile_pixels_ * channels_;
      const bool narrower = remainder_ && tile == tiles - 1;
      (narrower ? *remainder_ : *whole_)
          .run(stream, gated + offset, x + offset, normalized, gate, product, scratchpad);
    }
    stream.wait();
  });
}

}  // namespace ern::inference
