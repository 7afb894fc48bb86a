#pragma once
// What the strips and tiles of an fp32 or int8 block (tiled_block_head.h, tiled_block_tail.h)
// share.

#include <cstddef>
#include <cstdint>

namespace ern::inference {

// Whether a block's large activations may run in strips and tiles; kNever runs each step over
// whole images (the reference the tiles are tested against).
enum class Tiling { kWhereItPays, kNever };

// An activation smaller than this (bytes) stays in the caches between one step over the whole
// image and the next well enough that tiles do not pay for their extra calls.
inline constexpr int64_t kUntiledActivationBytes = 2 << 20;

// Bytes rounded up to whole cache lines: the pieces a thread's scratch is cut into.
inline size_t cache_line_aligned(size_t bytes) { return (bytes + 63) / 64 * 64; }

}  // namespace ern::inference
