#include "common/openmp_threads.h"

#include <omp.h>

namespace ern {

void set_openmp_threads_of_this_thread(int threads) { omp_set_num_threads(threads); }

}  // namespace ern
