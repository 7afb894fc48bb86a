#pragma once
// A bound on the decoded pixels of all Denoise calls in progress together. Each call's memory
// grows with its image (decoded pixels, float tensors, tiles, the encoded answer), so a budget of
// pixels bounds the serving memory whatever the number of concurrent calls. A call that would go
// over waits briefly for others to finish, then gets RESOURCE_EXHAUSTED. When the last call of a
// burst that held many pixels leaves, the heap's free pages go back to the system (the processes
// keep freed memory for speed; see common/heap_tuning.h and serving/heap_trimmer.h).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

#include "serving/heap_trimmer.h"

namespace ern::serving {

class PixelBudget {
 public:
  // `capacity`: pixels in flight at most; `wait`: how long a call may wait for room;
  // `trim_after`: pixels held at some point of a burst above which its end returns memory.
  PixelBudget(int64_t capacity, std::chrono::milliseconds wait, int64_t trim_after);

  // Holds `pixels` of the budget for its lifetime.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

   private:
    friend class PixelBudget;
    Lease(PixelBudget* budget, int64_t pixels) : budget_(budget), pixels_(pixels) {}
    PixelBudget* budget_ = nullptr;
    int64_t pixels_ = 0;
  };

  // Throws RpcError(RESOURCE_EXHAUSTED) when `pixels` do not fit within the wait.
  Lease acquire(int64_t pixels);
  int64_t in_flight() const;

 private:
  void release(int64_t pixels);

  const int64_t capacity_;
  const std::chrono::milliseconds wait_;
  const int64_t trim_after_;
  mutable std::mutex mutex_;
  std::condition_variable room_;
  int64_t in_flight_ = 0;
  int64_t burst_peak_ = 0;  // most pixels held since the budget was last empty
  HeapTrimmer trimmer_;
};

}  // namespace ern::serving
