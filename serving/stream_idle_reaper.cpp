#include "serving/stream_idle_reaper.h"

#include <algorithm>

namespace ern::serving {

StreamIdleReaper::StreamIdleReaper(std::chrono::milliseconds idle)
    : idle_(idle), thread_([this] { run(); }) {}

StreamIdleReaper::~StreamIdleReaper() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_requested_.notify_all();
  thread_.join();
}

StreamIdleReaper::Watch::Watch(StreamIdleReaper& reaper, grpc::ServerContext& context)
    : reaper_(reaper) {
  std::lock_guard lock(reaper_.mutex_);
  entry_ = reaper_.streams_.emplace(reaper_.streams_.end());
  entry_->context = &context;
  entry_->last_message = Clock::now().time_since_epoch().count();
}

StreamIdleReaper::Watch::~Watch() {
  std::lock_guard lock(reaper_.mutex_);
  reaper_.streams_.erase(entry_);
}

void StreamIdleReaper::Watch::touch() {
  entry_->last_message = Clock::now().time_since_epoch().count();
}

bool StreamIdleReaper::Watch::reaped() const { return entry_->reaped; }

void StreamIdleReaper::run() {
  // A stream is cancelled between `idle` and `idle` plus one check period after its last message.
  const auto period = std::clamp<std::chrono::milliseconds>(
      idle_ / 4, std::chrono::milliseconds(10), std::chrono::milliseconds(500));
  std::unique_lock lock(mutex_);
  while (!stop_requested_.wait_for(lock, period, [&] { return stopping_; })) {
    const auto cutoff = (Clock::now() - idle_).time_since_epoch().count();
    for (auto& stream : streams_) {
      if (!stream.reaped && stream.last_message < cutoff) {
        stream.reaped = true;
        stream.context->TryCancel();
      }
    }
  }
}

}  // namespace ern::serving
