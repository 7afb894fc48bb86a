#include "serving/pixel_budget.h"

#include <algorithm>
#include <string>
#include <utility>

#include "common/rpc_error.h"

namespace ern::serving {

PixelBudget::PixelBudget(int64_t capacity, std::chrono::milliseconds wait, int64_t trim_after)
    : capacity_(capacity), wait_(wait), trim_after_(trim_after) {}

PixelBudget::Lease::Lease(Lease&& other) noexcept
    : budget_(std::exchange(other.budget_, nullptr)), pixels_(other.pixels_) {}

PixelBudget::Lease& PixelBudget::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    if (budget_) budget_->release(pixels_);
    budget_ = std::exchange(other.budget_, nullptr);
    pixels_ = other.pixels_;
  }
  return *this;
}

PixelBudget::Lease::~Lease() {
  if (budget_) budget_->release(pixels_);
}

PixelBudget::Lease PixelBudget::acquire(int64_t pixels) {
  if (pixels > capacity_) {
    throw RpcError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                   "image: " + std::to_string(pixels) + " pixels are over the serving budget of " +
                       std::to_string(capacity_) + " pixels in flight");
  }
  std::unique_lock lock(mutex_);
  if (!room_.wait_for(lock, wait_, [&] { return in_flight_ + pixels <= capacity_; })) {
    throw RpcError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                   "image: " + std::to_string(pixels) + " pixels do not fit the serving budget (" +
                       std::to_string(in_flight_) + " of " + std::to_string(capacity_) +
                       " pixels in flight); retry later");
  }
  if (in_flight_ == 0) trimmer_.burst_started();
  in_flight_ += pixels;
  burst_peak_ = std::max(burst_peak_, in_flight_);
  return Lease(this, pixels);
}

int64_t PixelBudget::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

void PixelBudget::release(int64_t pixels) {
  {
    std::lock_guard lock(mutex_);
    in_flight_ -= pixels;
    if (in_flight_ == 0) {
      if (burst_peak_ >= trim_after_) trimmer_.burst_ended();
      burst_peak_ = 0;
    }
  }
  room_.notify_all();
}

}  // namespace ern::serving
