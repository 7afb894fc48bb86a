#pragma once
// OpenMP's thread count is per thread: the forward passes' executor computes with every core,
// background work that touches tensors (the quality gate, preloading models) with one, so that it
// does not take the cores from the forward passes.

namespace ern {

// The OpenMP teams this thread starts from now on have at most `threads` threads.
void set_openmp_threads_of_this_thread(int threads);

}  // namespace ern
