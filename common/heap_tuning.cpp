#include "common/heap_tuning.h"

#include <malloc.h>

namespace ern {

void keep_freed_memory_in_heap() {
  mallopt(M_MMAP_MAX, 0);  // no per-block mappings (the threshold itself is capped at 32 MiB)
  // One arena: a thread's own arena grows in heaps of at most 64 MiB, too small for a batch's
  // activations, which would then fall back to the main arena anyway after a failed attempt.
  // These processes allocate few, large blocks, so a single arena costs little contention.
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

}  // namespace ern
