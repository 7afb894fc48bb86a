#pragma once
// OpenMP's thread count is per thread: the forward passes' executor computes with every core,
// background work that touches tensors (the quality gate, preloading models) with one, so that it
// does not take the cores from the forward passes.

namespace ern {

// The OpenMP teams this thread starts from now on have at most `threads` threads.
void set_openmp_threads_of_this_thread(int threads);

// While alive, this thread's OpenMP teams have one thread: oneDNN sizes a primitive's split of its
// work by the team size when the primitive is made, so a primitive made here runs on one thread,
// for callers that split the work between threads themselves.
class SingleThreadedScope {
 public:
  SingleThreadedScope();
  ~SingleThreadedScope();
  SingleThreadedScope(const SingleThreadedScope&) = delete;
  SingleThreadedScope& operator=(const SingleThreadedScope&) = delete;

 private:
  int previous_;
};

}  // namespace ern
