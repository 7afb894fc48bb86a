#include "serving/dynamic_batcher.h"

#include "common/rpc_error.h"
#include "serving/serving_metrics.h"

namespace ern::serving {
namespace {

double milliseconds_between(DynamicBatcher::Clock::time_point from,
                            DynamicBatcher::Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

DynamicBatcher::DynamicBatcher(int max_batch, std::chrono::microseconds max_queue_delay,
                               int max_queue, int threads)
    : max_batch_(static_cast<size_t>(max_batch)),
      max_queue_delay_(max_queue_delay),
      max_queue_(static_cast<size_t>(max_queue)),
      executor_([this, threads] { run(threads); }) {
  serving_metrics().queue_capacity.set(static_cast<double>(max_queue));
}

DynamicBatcher::~DynamicBatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  executor_.join();
  for (auto& item : queue_) {
    item.result.set_exception(std::make_exception_ptr(
        RpcError(grpc::StatusCode::UNAVAILABLE, "the server is shutting down")));
  }
}

DynamicBatcher::Arrival::Arrival(DynamicBatcher& batcher) : batcher_(batcher) {
  std::lock_guard lock(batcher_.mutex_);
  ++batcher_.announced_;
}

void DynamicBatcher::Arrival::withdraw() {
  if (!pending_) return;
  pending_ = false;
  {
    std::lock_guard lock(batcher_.mutex_);
    --batcher_.announced_;
  }
  batcher_.changed_.notify_all();
}

std::vector<std::future<BatchResult>> DynamicBatcher::submit(
    std::shared_ptr<const ServingModel> model, const torch::Tensor& images,
    Clock::time_point deadline) {
  const size_t count = static_cast<size_t>(images.size(0));
  std::vector<std::future<BatchResult>> results;
  {
    // All at once, so the executor never takes a batch with only the first of them.
    std::lock_guard lock(mutex_);
    if (queue_.size() + count > max_queue_) {
      throw RpcError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "the denoise queue is full (" + std::to_string(max_queue_) +
                         " images or tiles waiting); retry later");
    }
    const auto now = Clock::now();
    for (size_t i = 0; i < count; ++i) {
      Item item{model, images.slice(0, i, i + 1), deadline, now, {}};
      results.push_back(item.result.get_future());
      queue_.push_back(std::move(item));
    }
    serving_metrics().queue_depth.set(static_cast<double>(queue_.size()));
  }
  changed_.notify_all();
  return results;
}

size_t DynamicBatcher::queue_depth() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

bool DynamicBatcher::same_batch(const Item& a, const Item& b) {
  return a.model == b.model && a.input.sizes() == b.input.sizes();
}

std::deque<DynamicBatcher::Item> DynamicBatcher::take_batch(std::unique_lock<std::mutex>& lock) {
  changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
  if (stopping_) return {};
  // The oldest item decides the batch; wait for companions until it has waited long enough or
  // no more are on their way.
  const auto ready = [&] {
    size_t companions = 0;
    for (const auto& item : queue_) companions += same_batch(item, queue_.front());
    return stopping_ || companions >= max_batch_ || announced_ == 0;
  };
  changed_.wait_until(lock, queue_.front().enqueued + max_queue_delay_, ready);
  if (stopping_) return {};
  // The first item moves into the batch; later ones join it when they match it.
  std::deque<Item> batch;
  batch.push_back(std::move(queue_.front()));
  queue_.pop_front();
  for (auto it = queue_.begin(); it != queue_.end() && batch.size() < max_batch_;) {
    if (same_batch(*it, batch.front())) {
      batch.push_back(std::move(*it));
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
  serving_metrics().queue_depth.set(static_cast<double>(queue_.size()));
  return batch;
}

void DynamicBatcher::run(int threads) {
  // The thread count is per thread in LibTorch's OpenMP backend: set it where the work runs.
  at::set_num_threads(threads > 0 ? threads
                                  : static_cast<int>(std::thread::hardware_concurrency()));
  std::unique_lock lock(mutex_);
  while (true) {
    auto batch = take_batch(lock);
    if (batch.empty()) return;
    lock.unlock();
    compute(batch);
    lock.lock();
  }
}

void DynamicBatcher::compute(std::deque<Item>& batch) {
  const auto started = Clock::now();
  std::vector<torch::Tensor> inputs;
  std::deque<Item> live;
  for (auto& item : batch) {
    if (item.deadline <= started) {
      item.result.set_exception(std::make_exception_ptr(RpcError(
          grpc::StatusCode::DEADLINE_EXCEEDED, "the deadline passed while the image was queued")));
    } else {
      inputs.push_back(item.input);
      live.push_back(std::move(item));
    }
  }
  if (live.empty()) return;
  const uint64_t batch_id = ++batches_;
  try {
    torch::Tensor outputs;
    {
      c10::InferenceMode inference;
      outputs = live.front().model->engine->forward(inputs.size() == 1 ? inputs.front()
                                                                       : torch::cat(inputs, 0));
    }
    const double inference_ms = milliseconds_between(started, Clock::now());
    auto& series = *live.front().model->metrics;
    series.inference_duration.observe(inference_ms / 1000);
    series.batch_size.observe(static_cast<double>(live.size()));
    for (size_t i = 0; i < live.size(); ++i) {
      series.queue_duration.observe(milliseconds_between(live[i].enqueued, started) / 1000);
      live[i].result.set_value({outputs.slice(0, i, i + 1),
                                milliseconds_between(live[i].enqueued, started), inference_ms,
                                batch_id, static_cast<int>(live.size())});
    }
  } catch (...) {
    for (auto& item : live) item.result.set_exception(std::current_exception());
  }
}

}  // namespace ern::serving
