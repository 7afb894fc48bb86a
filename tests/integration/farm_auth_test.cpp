// The device farm's callers authenticated by the coordinator: a farm started with --coordinator
// asks it (AccessService.VerifyToken, with its own worker token) who holds each caller's token, and
// serves LatencyService only to worker and admin tokens. Real processes on loopback.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "ern/v1/latency.grpc.pb.h"
#include "tests/test_support.h"

namespace ern {
namespace {

using grpc::StatusCode;

class FarmAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    coordinator_ = test::start_coordinator(dir_.path());
    admin_ = test::admin_token(dir_ / "coordinator");
    std::ofstream(dir_ / "farm.token") << create_token("worker") << "\n";
    farm_ = std::make_unique<test::ServerProcess>(
        (test::bin_dir() / "ern-devicefarm").string(),
        std::vector<std::string>{"--config",
                                 (test::source_dir() / "configs/devicefarm.yaml").string(),
                                 "--listen", "127.0.0.1:0", "--data", (dir_ / "farm").string(),
                                 "--coordinator", coordinator_->address(), "--token-file",
                                 (dir_ / "farm.token").string(), "--token-cache-seconds", "0"},
        dir_ / "farm.log");
  }

  // A new token of `role` (team vision), as the last line of `ernctl tokens create` prints it.
  std::string create_token(const std::string& role) {
    return test::create_token(coordinator_->address(), admin_, "vision", role);
  }

  grpc::Status list_devices(const std::string& token) {
    auto stub = v1::LatencyService::NewStub(test::channel_with_token(farm_->address(), token));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::ListDevicesResponse response;
    return stub->ListDevices(&context, v1::ListDevicesRequest(), &response);
  }

  test::TempDir dir_{"ern-farm-auth-test"};
  std::unique_ptr<test::ServerProcess> coordinator_, farm_;
  std::string admin_;
};

TEST_F(FarmAuthTest, OnlyWorkerAndAdminTokensMeasure) {
  EXPECT_EQ(list_devices("").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(list_devices("ern_not-a-token").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(list_devices(admin_).ok());
  const auto worker = create_token("worker");
  EXPECT_TRUE(list_devices(worker).ok());
  for (const std::string role : {"member", "viewer", "app"}) {
    const auto status = list_devices(create_token(role));
    EXPECT_EQ(status.error_code(), StatusCode::PERMISSION_DENIED) << role;
    EXPECT_NE(status.error_message().find("measure latency"), std::string::npos)
        << status.error_message();
  }

  // ernctl and the search's client send their token to the farm too.
  const auto ernctl = (test::bin_dir() / "ernctl").string();
  ASSERT_EQ(test::run({ernctl, "model", "init", "--width", "8", "--enc", "1,1", "--middle", "1",
                       "--dec", "1,1", "-o", (dir_ / "tiny").string()})
                .exit_code,
            0);
  const auto profiled =
      test::run({ernctl, "model", "profile", (dir_ / "tiny").string(), "--devicefarm",
                 farm_->address(), "--size", "32", "--token", worker});
  EXPECT_EQ(profiled.exit_code, 0) << profiled.output;

  // Revocation reaches the farm (its cache is off here; 30 s by default).
  const auto listed = test::run(
      {ernctl, "tokens", "list", "--json", "--server", coordinator_->address(), "--token", admin_});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  const auto tokens = nlohmann::json::parse(listed.output.substr(listed.output.find('[')));
  std::string worker_id;
  for (const auto& token : tokens) {
    if (token["role"] == "worker") worker_id = token["id"];  // the newest worker token last
  }
  ASSERT_FALSE(worker_id.empty());
  ASSERT_EQ(test::run({ernctl, "tokens", "revoke", worker_id, "--server", coordinator_->address(),
                       "--token", admin_})
                .exit_code,
            0);
  EXPECT_EQ(list_devices(worker).error_code(), StatusCode::UNAUTHENTICATED);
}

TEST_F(FarmAuthTest, WithoutTheCoordinatorNobodyGetsIn) {
  EXPECT_TRUE(list_devices(admin_).ok());
  coordinator_->stop();
  EXPECT_EQ(list_devices(admin_).error_code(), StatusCode::UNAVAILABLE);
}

TEST_F(FarmAuthTest, AFarmBeyondLoopbackNeedsTokenChecks) {
  const auto refused = test::run({(test::bin_dir() / "ern-devicefarm").string(), "--config",
                                  (test::source_dir() / "configs/devicefarm.yaml").string(),
                                  "--listen", "0.0.0.0:0", "--insecure-plaintext", "--data",
                                  (dir_ / "open").string(), "--metrics-listen", ""});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("without token checks"), std::string::npos) << refused.output;
}

}  // namespace
}  // namespace ern
