#pragma once
// Limits and knobs of the Denoise engine (the `serving:` section of the coordinator's config).

#include <chrono>
#include <cstdint>

#include <yaml-cpp/yaml.h>

#include "common/png_encoder.h"

namespace ern::serving {

struct ServingOptions {
  int max_message_bytes = 256 << 20;     // a unary Denoise request; larger: DenoiseStream
  int64_t max_stream_bytes = 1LL << 30;  // one DenoiseStream image, all chunks together
  int64_t max_pixels = 64'000'000;       // width x height, checked before decoding
  int max_concurrent_requests = 64;      // Denoise calls in progress; more: RESOURCE_EXHAUSTED
  int64_t max_pixels_in_flight = 128'000'000;  // decoded pixels of all calls in progress together
  std::chrono::milliseconds pixel_budget_wait{5000};     // how long a call waits for that budget
  std::chrono::milliseconds stream_idle_timeout{10000};  // a DenoiseStream silent this long ends
  int max_queue = 256;  // images or tiles waiting; more: RESOURCE_EXHAUSTED
  int max_batch = 8;    // images or tiles per forward pass
  std::chrono::microseconds max_queue_delay{2000};  // how long a batch waits to fill
  int tile = 512;             // larger images are split into tiles of this side
  int overlap = 32;           // pixels shared by neighbouring tiles
  int max_loaded_models = 4;  // models kept in memory (least recently used go first)
  int threads = 0;            // LibTorch threads of the forward passes; 0: one per core
  // PNG responses: `fast` deflate (a quarter to a third of the raw size) or `none` (stored: the
  // raw size, several times cheaper to write and read; for callers on loopback or a fast LAN).
  PngCompression png_compression = PngCompression::kFast;

  // Throws std::invalid_argument naming the field.
  void validate() const;
};

// Reads the fields present in `node` (a YAML map) over the defaults; errors name `serving.<key>`.
ServingOptions read_serving_options(const YAML::Node& node);

}  // namespace ern::serving
