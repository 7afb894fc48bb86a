#pragma once
// Ends client streams that go quiet. A synchronous gRPC stream's Read() waits for the client as
// long as the client likes, holding a call slot and its buffered bytes; a client that opens many
// streams and sends only a header would lock every other caller out. One thread watches every
// registered stream and cancels (ServerContext::TryCancel) any with no message for `idle`, which
// makes its pending Read() return false.

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <mutex>
#include <thread>

namespace ern::serving {

class StreamIdleReaper {
 public:
  using Clock = std::chrono::steady_clock;

  explicit StreamIdleReaper(std::chrono::milliseconds idle);
  ~StreamIdleReaper();
  StreamIdleReaper(const StreamIdleReaper&) = delete;
  StreamIdleReaper& operator=(const StreamIdleReaper&) = delete;

 private:
  struct Entry {
    grpc::ServerContext* context;
    std::atomic<Clock::rep> last_message;
    std::atomic<bool> reaped{false};
  };

 public:
  // Registers a stream for its lifetime; call touch() after every message it receives.
  class Watch {
   public:
    Watch(StreamIdleReaper& reaper, grpc::ServerContext& context);
    ~Watch();
    Watch(const Watch&) = delete;
    Watch& operator=(const Watch&) = delete;

    void touch();
    // True when the reaper cancelled the stream for idleness.
    bool reaped() const;

   private:
    StreamIdleReaper& reaper_;
    std::list<Entry>::iterator entry_;
  };

  std::chrono::milliseconds idle() const { return idle_; }

 private:
  void run();

  const std::chrono::milliseconds idle_;
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopping_ = false;
  std::list<Entry> streams_;
  std::thread thread_;
};

}  // namespace ern::serving
