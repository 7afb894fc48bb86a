#pragma once
// Dynamic batching for Denoise: images and tiles of the same model and size wait together until
// `max_batch` of them are there or the oldest has waited `max_queue_delay`, then run as one
// forward pass on the executor thread. The queue is bounded: a full queue refuses new work at
// once (RESOURCE_EXHAUSTED) instead of growing; work whose deadline passed while it waited is
// dropped (DEADLINE_EXCEEDED) without being computed. The oldest waits for companions only while
// some call has announced that work is on its way, so a lone request never sits out the delay.

#include <torch/torch.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "serving/model_pool.h"

namespace ern::serving {

struct BatchResult {
  torch::Tensor output;  // [1, C, h, w]
  double queue_ms = 0;
  double inference_ms = 0;
  uint64_t batch_id = 0;  // items computed together share it
  int batch_size = 0;
};

class DynamicBatcher {
 public:
  using Clock = std::chrono::steady_clock;

  // `threads`: LibTorch threads of the forward passes (0: one per core).
  DynamicBatcher(int max_batch, std::chrono::microseconds max_queue_delay, int max_queue,
                 int threads);
  ~DynamicBatcher();  // work still queued fails with UNAVAILABLE

  // Announces that a call will submit work soon (it is decoding its image). Withdrawn by
  // `withdraw()` once the call has submitted, or on destruction.
  class Arrival {
   public:
    explicit Arrival(DynamicBatcher& batcher);
    ~Arrival() { withdraw(); }
    Arrival(const Arrival&) = delete;
    Arrival& operator=(const Arrival&) = delete;
    void withdraw();

   private:
    DynamicBatcher& batcher_;
    bool pending_ = true;
  };

  // images: [n, C, h, w] in [0, 1], one result each, enqueued together. Throws
  // RpcError(RESOURCE_EXHAUSTED) when the queue has no room for all of them.
  std::vector<std::future<BatchResult>> submit(std::shared_ptr<const ServingModel> model,
                                               const torch::Tensor& images,
                                               Clock::time_point deadline);
  size_t queue_depth() const;

 private:
  struct Item {
    std::shared_ptr<const ServingModel> model;
    torch::Tensor input;
    Clock::time_point deadline;
    Clock::time_point enqueued;
    std::promise<BatchResult> result;
  };
  static bool same_batch(const Item& a, const Item& b);
  void run(int threads);
  std::deque<Item> take_batch(std::unique_lock<std::mutex>& lock);  // waits; empty when stopping
  void compute(std::deque<Item>& batch);

  const size_t max_batch_;
  const std::chrono::microseconds max_queue_delay_;
  const size_t max_queue_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  int announced_ = 0;  // calls whose work is on its way
  uint64_t batches_ = 0;
  std::thread executor_;
};

}  // namespace ern::serving
