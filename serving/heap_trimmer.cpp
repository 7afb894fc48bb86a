#include "serving/heap_trimmer.h"

#include <malloc.h>

namespace ern::serving {

HeapTrimmer::HeapTrimmer() : thread_([this] { run(); }) {}

HeapTrimmer::~HeapTrimmer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void HeapTrimmer::burst_ended() {
  using namespace std::chrono_literals;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    due_ = {now, now + 100ms, now + 250ms, now + 500ms};
  }
  changed_.notify_all();
}

void HeapTrimmer::burst_started() {
  std::lock_guard lock(mutex_);
  due_.clear();
}

void HeapTrimmer::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (due_.empty()) {
      changed_.wait(lock);
      continue;
    }
    const auto next = due_.front();
    if (changed_.wait_until(lock, next) == std::cv_status::no_timeout) continue;
    if (due_.empty() || due_.front() != next) continue;  // cancelled or rescheduled meanwhile
    due_.erase(due_.begin());
    lock.unlock();
    malloc_trim(0);  // outside the lock: walking a large heap takes milliseconds
    lock.lock();
  }
}

}  // namespace ern::serving
