#pragma once
// OpenMP's thread count is per thread. Kept out of the tensor code's headers: compiling with
// OpenMP flags would keep a target from reusing the precompiled torch header.

namespace ern {

// The OpenMP teams this thread starts from now on have at most `threads` threads.
void set_openmp_threads_of_this_thread(int threads);

}  // namespace ern
