// Memory and connection bounds of a real ern-coordinator's Denoise service: streams that go
// quiet are ended, the decoded pixels of all calls together stay within a budget, and memory goes
// back to the system after a burst of large images.

#include <atomic>
#include <thread>
#include <vector>

#include "tests/integration/denoise_fixture.h"

namespace ern {
namespace {

// M1: streams that send a header and then nothing held every call slot for as long as they liked.
TEST_F(DenoiseTest, QuietStreamsAreEndedAndFreeTheirSlots) {
  start("{max_concurrent_requests: 2, stream_idle_timeout_ms: 500}");
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<
      grpc::ClientReaderWriter<v1::DenoiseStreamRequest, v1::DenoiseStreamResponse>>>
      streams;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    streams.push_back(denoise_->DenoiseStream(contexts.back().get()));
    v1::DenoiseStreamRequest header;
    header.mutable_request()->set_image("");
    ASSERT_TRUE(streams.back()->Write(header));
  }
  const auto request = encoded(random_image(32, 32, CV_8UC3));
  v1::DenoiseResponse response;
  // Both slots are taken while the streams are young...
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(call(request, &response).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // ...and free once the coordinator has ended them.
  for (auto& stream : streams) {
    const auto status = stream->Finish();
    EXPECT_FALSE(status.ok()) << "a stream that never finished its upload was answered";
  }
  // The client learns of the cancellation a moment before the server's handlers have unwound and
  // given their slots back.
  grpc::Status status;
  for (int attempt = 0; attempt < 20; ++attempt) {
    status = call(request, &response);
    if (status.ok()) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// H3: concurrent large images together may hold at most the configured budget of decoded pixels;
// beyond it a call is refused at once (no wait configured), naming the budget.
TEST_F(DenoiseTest, DecodedPixelsOfAllCallsStayWithinTheBudget) {
  start("{max_pixels: 1000000, max_pixels_in_flight: 1000000, pixel_budget_wait_ms: 0}");
  const auto request = encoded(random_image(1000, 1000, CV_8UC3));
  std::atomic<int> ok{0}, refused{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 6; ++i) {
    clients.emplace_back([&] {
      v1::DenoiseResponse response;
      const auto status = call(request, &response);
      if (status.ok()) {
        ++ok;
      } else {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
        EXPECT_NE(status.error_message().find("serving budget"), std::string::npos)
            << status.error_message();
        ++refused;
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_GE(ok.load(), 1);
  EXPECT_GE(refused.load(), 1) << "six 1 MP images ran at once within a 1 MP budget";
}

// H3: a burst of large images used to leave its peak resident for good.
TEST_F(DenoiseTest, ResidentMemoryReturnsNearItsIdleLevelAfterABurst) {
  start("{max_pixels: 16000000, max_pixels_in_flight: 64000000}");
  // Idle: after one image of the burst's size, so that what is kept for good (the network's
  // kernels for the tile shape, the server's threads) counts as idle.
  const auto large = encoded(random_image(2000, 2000, CV_8UC3));
  v1::DenoiseResponse response;
  ASSERT_TRUE(call(large, &response).ok());
  std::this_thread::sleep_for(200ms);
  const int64_t idle = resident_bytes(coordinator_->pid());
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      v1::DenoiseResponse answer;
      const auto status = call(large, &answer);
      EXPECT_TRUE(status.ok()) << status.error_message();
    });
  }
  for (auto& client : clients) client.join();
  // The heap goes back within half a second of the burst's end (serving/heap_trimmer.h).
  int64_t after = 0;
  for (int wait = 0; wait < 10; ++wait) {
    std::this_thread::sleep_for(100ms);
    after = resident_bytes(coordinator_->pid());
    if (after < idle * 1.2) break;
  }
  const int64_t peak = resident_bytes(coordinator_->pid(), "VmHWM");
  EXPECT_GT(peak, idle * 1.5) << "the burst is too small to tell";
  EXPECT_LT(after, idle * 1.2) << "resident " << (idle >> 20) << " MiB when idle, " << (peak >> 20)
                               << " MiB at the peak, " << (after >> 20) << " MiB after the burst";
}

}  // namespace
}  // namespace ern
