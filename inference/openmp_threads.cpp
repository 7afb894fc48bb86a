#include "inference/openmp_threads.h"

#include <ATen/Parallel.h>
#include <omp.h>

namespace ern {

void set_openmp_threads_of_this_thread(int threads) {
  // LibTorch sets a thread's count on its first parallel region to the last count any thread gave
  // at::set_num_threads; started first, that initialization no longer overrides this one.
  at::internal::lazy_init_num_threads();
  omp_set_num_threads(threads);
}

SingleThreadedScope::SingleThreadedScope() : previous_(omp_get_max_threads()) {
  omp_set_num_threads(1);
}

SingleThreadedScope::~SingleThreadedScope() { omp_set_num_threads(previous_); }

}  // namespace ern
