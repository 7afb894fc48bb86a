#pragma once
// Tensor work allocates and frees the same large activation buffers on every forward or training
// step. glibc gives each block above its mmap threshold a mapping of its own and unmaps it on
// free, so every pass pays its page faults again: on small networks, several times the arithmetic.

namespace ern {

// Large blocks come from one heap shared by all threads and go back to it, and the heap is not
// trimmed below its peak:
// steady-state passes run without page faults, and the process's resident memory stays at the
// peak it reached. Call at the start of main().
void keep_freed_memory_in_heap();

}  // namespace ern
