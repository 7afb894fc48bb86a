#pragma once
// Counts LibTorch's CPU allocations (current and peak bytes) by wrapping the CPU allocator, so
// the farm can report a network's peak inference memory. install() is idempotent.

#include <cstdint>

namespace ern::farm {

class MemoryTracker {
 public:
  static void install();
  static int64_t current_bytes();
  static int64_t peak_bytes();
  static void reset_peak();  // peak := current
};

}  // namespace ern::farm
