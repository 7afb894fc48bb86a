#pragma once
// Returns the heap's free pages to the system after a burst of large Denoise calls, at once and a
// few more times over the next half second: gRPC frees the calls' request and response buffers
// only after the handlers have returned and the answers are sent, which is after the burst's last
// pixels left the budget. A new burst cancels the trims still due (it would reuse the pages).

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace ern::serving {

class HeapTrimmer {
 public:
  HeapTrimmer();
  ~HeapTrimmer();
  HeapTrimmer(const HeapTrimmer&) = delete;
  HeapTrimmer& operator=(const HeapTrimmer&) = delete;

  void burst_ended();    // trims now, then again after 100, 250 and 500 ms
  void burst_started();  // cancels the trims still due

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::chrono::steady_clock::time_point> due_;  // ascending
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ern::serving
