// ern-serve replicas against a real coordinator on loopback: they mirror its registry (two tiny
// imported models), serve the default as the coordinator and the offline path do, follow a change
// of default under load without a failed call, go on serving while the coordinator is down, and a
// replica started while it is down becomes ready once it is back.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <opencv2/core.hpp>

#include "common/image_io.h"
#include "ern/v1/denoise.grpc.pb.h"
#include "ern/v1/models.grpc.pb.h"
#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

cv::Mat random_image(int rows, int cols, uint64_t seed) {
  cv::Mat image(rows, cols, CV_8UC3);
  cv::RNG rng(seed);
  rng.fill(image, cv::RNG::UNIFORM, 0, 255);
  return image;
}

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(dir_ / "coordinator.yaml") << "serving: {}\n";  // no shipped models, no gate
    start_coordinator("127.0.0.1:0");
    admin_ = test::admin_token(dir_ / "coordinator");
    const auto ernctl = (test::bin_dir() / "ernctl").string();
    for (const std::string name : {"first", "second"}) {
      auto made = test::run({ernctl, "model", "init", "--width", "8", "--enc", "1,1", "--middle",
                             "1", "--dec", "1,1", "--seed", name == "first" ? "1" : "2", "-o",
                             (dir_ / name).string()});
      ASSERT_EQ(made.exit_code, 0) << made.output;
      auto imported = test::run({ernctl, "models", "import", (dir_ / name).string(), "--name", name,
                                 "--team", "vision", "--server", address_, "--token", admin_});
      ASSERT_EQ(imported.exit_code, 0) << imported.output;
    }
    std::ofstream(dir_ / "serve.token")
        << test::create_token(address_, admin_, "", "serve") << "\n";
    app_ = test::create_token(address_, admin_, "vision", "app");
  }

  void start_coordinator(const std::string& listen) {
    coordinator_ = std::make_unique<test::ServerProcess>(
        (test::bin_dir() / "ern-coordinator").string(),
        std::vector<std::string>{"--config", (dir_ / "coordinator.yaml").string(), "--listen",
                                 listen, "--data", (dir_ / "coordinator").string()},
        dir_ / "coordinator.log");
    address_ = coordinator_->address();
  }

  std::unique_ptr<test::ServerProcess> start_replica(const std::string& name) {
    return std::make_unique<test::ServerProcess>(
        (test::bin_dir() / "ern-serve").string(),
        std::vector<std::string>{"--registry", address_, "--token-file",
                                 (dir_ / "serve.token").string(), "--listen", "127.0.0.1:0",
                                 "--data", (dir_ / name).string()},
        dir_ / (name + ".log"));
  }

  static bool wait_ready(const test::ServerProcess& replica, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (test::http_get(replica.metrics_address(), "/readyz", 2s).status == 200) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  grpc::Status denoise(const std::string& address, const v1::DenoiseRequest& request,
                       v1::DenoiseResponse* response, const std::string& token) {
    auto stub = v1::DenoiseService::NewStub(test::channel_with_token(address, token));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 60s);
    return stub->Denoise(&context, request, response);
  }

  v1::DenoiseRequest png_request(uint64_t seed) {
    v1::DenoiseRequest request;
    request.set_image(encode_image(random_image(80, 72, seed), "png"));
    return request;
  }

  test::TempDir dir_;
  std::unique_ptr<test::ServerProcess> coordinator_;
  std::string address_, admin_, app_;
};

TEST_F(ServeTest, TwoReplicasServeTheDefaultModelAsTheCoordinatorAndTheOfflinePathDo) {
  auto a = start_replica("serve-a");
  auto b = start_replica("serve-b");
  ASSERT_TRUE(wait_ready(*a, 60s)) << a->log();
  ASSERT_TRUE(wait_ready(*b, 60s)) << b->log();

  const auto request = png_request(3);
  v1::DenoiseResponse from_a, from_b, from_coordinator;
  ASSERT_TRUE(denoise(a->address(), request, &from_a, app_).ok());
  ASSERT_TRUE(denoise(b->address(), request, &from_b, app_).ok());
  ASSERT_TRUE(denoise(address_, request, &from_coordinator, app_).ok());
  EXPECT_EQ(from_a.model(), "model-000001");
  EXPECT_EQ(from_b.model(), "model-000001");
  EXPECT_EQ(from_a.image(), from_coordinator.image());
  EXPECT_EQ(from_b.image(), from_coordinator.image());

  std::ofstream(dir_ / "in.png", std::ios::binary) << request.image();
  auto offline = test::run({(test::bin_dir() / "ernctl").string(), "denoise", "--local",
                            (dir_ / "first").string(), (dir_ / "in.png").string(), "-o",
                            (dir_ / "offline.png").string()});
  ASSERT_EQ(offline.exit_code, 0) << offline.output;
  const auto expected = read_image(dir_ / "offline.png");
  const auto served = decode_image(from_a.image());
  // The serving path folds LayerNorm and β/γ into the convolutions: the same to within rounding.
  EXPECT_LE(cv::norm(expected, served, cv::NORM_INF), 1.0);

  // Callers need a token that may call Denoise, checked with the coordinator.
  v1::DenoiseResponse refused;
  EXPECT_EQ(denoise(a->address(), request, &refused, "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(denoise(a->address(), request, &refused, "ern_not-a-token").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  const auto viewer = test::create_token(address_, admin_, "vision", "viewer");
  EXPECT_EQ(denoise(a->address(), request, &refused, viewer).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ServeTest, SetDefaultSwitchesEveryReplicaUnderLoadWithoutAFailedCall) {
  std::vector<std::unique_ptr<test::ServerProcess>> replicas;
  replicas.push_back(start_replica("serve-a"));
  replicas.push_back(start_replica("serve-b"));
  for (const auto& replica : replicas) ASSERT_TRUE(wait_ready(*replica, 60s)) << replica->log();

  const auto request = png_request(5);
  std::atomic<bool> done{false};
  std::atomic<int> calls{0}, failures{0};
  std::mutex latest_mutex;
  std::map<std::string, std::string> latest;  // replica → model of its newest answer
  std::vector<std::thread> load;
  for (const auto& replica : replicas) {
    load.emplace_back([&, address = replica->address()] {
      while (!done) {
        v1::DenoiseResponse response;
        const auto status = denoise(address, request, &response, app_);
        ++calls;
        if (!status.ok()) {
          ++failures;
          ADD_FAILURE() << address << ": " << status.error_message();
          continue;
        }
        std::lock_guard lock(latest_mutex);
        latest[address] = response.model();
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  auto set = test::run({(test::bin_dir() / "ernctl").string(), "models", "set-default", "second",
                        "--server", address_, "--token", admin_});
  ASSERT_EQ(set.exit_code, 0) << set.output;
  const auto switched_by = std::chrono::steady_clock::now() + 20s;
  bool switched = false;
  while (!switched && std::chrono::steady_clock::now() < switched_by) {
    std::this_thread::sleep_for(50ms);
    std::lock_guard lock(latest_mutex);
    switched = latest.size() == replicas.size() &&
               std::all_of(latest.begin(), latest.end(),
                           [](const auto& item) { return item.second == "model-000002"; });
  }
  done = true;
  for (auto& thread : load) thread.join();
  EXPECT_TRUE(switched) << "not every replica answers with the new default";
  EXPECT_EQ(failures.load(), 0) << "of " << calls.load() << " calls";
  EXPECT_GT(calls.load(), 4);
}

TEST_F(ServeTest, ReplicasGoOnServingWhileTheCoordinatorIsDown) {
  auto a = start_replica("serve-a");
  auto b = start_replica("serve-b");
  ASSERT_TRUE(wait_ready(*a, 60s)) << a->log();
  ASSERT_TRUE(wait_ready(*b, 60s)) << b->log();
  const auto request = png_request(7);
  auto named = request;
  named.set_model("second");
  v1::DenoiseResponse response;
  const auto held = denoise(a->address(), named, &response, app_);  // a holds it from now on
  ASSERT_TRUE(held.ok()) << held.error_message();
  // Each replica knows the application's token from a call before the coordinator went away.
  ASSERT_TRUE(denoise(b->address(), request, &response, app_).ok());

  coordinator_->kill_hard();
  for (const auto* replica : {a.get(), b.get()}) {
    for (int i = 0; i < 3; ++i) {
      const auto status = denoise(replica->address(), request, &response, app_);
      EXPECT_TRUE(status.ok()) << replica->address() << ": " << status.error_message();
      EXPECT_EQ(response.model(), "model-000001");
    }
  }
  const auto status = denoise(a->address(), named, &response, app_);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model(), "model-000002");
  EXPECT_TRUE(wait_ready(*a, 1s));
}

TEST_F(ServeTest, AReplicaStartedWhileTheCoordinatorIsDownIsReadyOnceItIsBack) {
  const auto address = address_;
  coordinator_->stop();
  auto replica = start_replica("serve-late");
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(test::http_get(replica->metrics_address(), "/readyz", 2s).status, 503);
  v1::DenoiseResponse response;
  EXPECT_EQ(denoise(replica->address(), png_request(9), &response, app_).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  start_coordinator(address);  // the same address the replica dials
  ASSERT_TRUE(wait_ready(*replica, 60s)) << replica->log();
  const auto status = denoise(replica->address(), png_request(9), &response, app_);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.model(), "model-000001");
}

}  // namespace
}  // namespace ern
