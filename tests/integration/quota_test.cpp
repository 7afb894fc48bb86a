// Quotas of a real coordinator on loopback (quotas: in its config): a team's queued and running
// jobs and stored artifacts, an app token's Denoise requests and megapixels per second. Beyond a
// quota: RESOURCE_EXHAUSTED at once, naming it, and a count in the metrics.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include <opencv2/core.hpp>

#include "common/image_io.h"
#include "ern/v1/denoise.grpc.pb.h"
#include "ern/v1/search.grpc.pb.h"
#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class QuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto config = dir_ / "coordinator.yaml";
    std::ofstream(config) << "quotas:\n"
                             "  teams:\n"
                             "    default: {max_active_jobs: 2, max_artifact_bytes: 400000}\n"
                             "    big: {max_active_jobs: 5}\n"
                             "  app_tokens: {requests_per_second: 2, megapixels_per_second: 0.05}\n"
                             "shipped_models: {directory: \"\"}\n"
                             "promotion: {images: \"\"}\n";
    coordinator_ = test::start_coordinator(
        dir_.path(), {"--config", config.string(), "--metrics-listen", "127.0.0.1:0"});
    admin_ = test::admin_token(dir_ / "coordinator");
  }

  grpc::Status submit(const std::string& token, v1::Job* job) {
    v1::SubmitSearchJobRequest request;
    request.set_spec_yaml(test::tiny_search_spec(20));
    grpc::ClientContext context;
    return v1::SearchService::NewStub(test::channel_with_token(coordinator_->address(), token))
        ->SubmitSearchJob(&context, request, job);
  }

  SubprocessResult import_model(const std::string& name, const std::string& token) {
    const auto ernctl = (test::bin_dir() / "ernctl").string();
    const auto model = dir_ / name;
    test::run({ernctl, "model", "init", "--width", "8", "--enc", "1,1", "--middle", "1", "--dec",
               "1,1", "--seed", std::to_string(name.size()), "-o", model.string()});
    return test::run({ernctl, "models", "import", model.string(), "--server",
                      coordinator_->address(), "--token", token});
  }

  double rejections(const std::string& quota) {
    const auto scrape = test::http_get(coordinator_->metrics_address(), "/metrics").body;
    const std::string series = "ern_coordinator_quota_rejections_total{quota=\"" + quota + "\"} ";
    const auto at = scrape.find(series);
    return at == std::string::npos ? 0 : std::stod(scrape.substr(at + series.size()));
  }

  test::TempDir dir_;
  std::unique_ptr<test::ServerProcess> coordinator_;
  std::string admin_;
};

TEST_F(QuotaTest, ATeamsQueuedAndRunningJobsAreBounded) {
  const auto member = test::create_token(coordinator_->address(), admin_, "vision", "member");
  const auto other = test::create_token(coordinator_->address(), admin_, "big", "member");
  v1::Job first, second, refused;
  ASSERT_TRUE(submit(member, &first).ok());
  ASSERT_TRUE(submit(member, &second).ok());
  const auto status = submit(member, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("quota max_active_jobs: team vision has 2"),
            std::string::npos)
      << status.error_message();
  EXPECT_EQ(rejections("max_active_jobs"), 1);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(submit(other, &refused).ok()) << "its own quota: 5";

  // An ended job no longer counts.
  v1::CancelJobRequest cancel;
  cancel.set_id(first.id());
  grpc::ClientContext context;
  v1::Job cancelled;
  ASSERT_TRUE(v1::SearchService::NewStub(test::channel_with_token(coordinator_->address(), member))
                  ->CancelJob(&context, cancel, &cancelled)
                  .ok());
  EXPECT_TRUE(submit(member, &refused).ok());
}

TEST_F(QuotaTest, ATeamsStoredArtifactsAreBounded) {
  const auto member = test::create_token(coordinator_->address(), admin_, "vision", "member");
  // Tiny models of about 60 KB: the 400 kB quota takes a few, then refuses.
  int imported = 0;
  SubprocessResult result;
  for (int i = 0; i < 12; ++i) {
    result = import_model("model" + std::string(i + 1, 'x'), member);
    if (result.exit_code != 0) break;
    ++imported;
  }
  EXPECT_GE(imported, 2);
  EXPECT_LT(imported, 12) << "the quota never refused";
  EXPECT_NE(result.output.find("RESOURCE_EXHAUSTED: quota max_artifact_bytes: team vision"),
            std::string::npos)
      << result.output;
  EXPECT_GE(rejections("max_artifact_bytes"), 1);
  // Another team has its own room.
  const auto other = test::create_token(coordinator_->address(), admin_, "other", "member");
  EXPECT_EQ(import_model("elsewhere", other).exit_code, 0);
}

TEST_F(QuotaTest, AppTokensAreRateLimitedInRequestsAndMegapixels) {
  ASSERT_EQ(import_model("served", admin_).exit_code, 0);
  const auto app = test::create_token(coordinator_->address(), admin_, "vision", "app");
  auto denoise =
      v1::DenoiseService::NewStub(test::channel_with_token(coordinator_->address(), app));
  const auto call = [&](int side) {
    v1::DenoiseRequest request;
    request.set_image(encode_image(cv::Mat(side, side, CV_8UC3, cv::Scalar(90, 120, 30)), "png"));
    v1::DenoiseResponse response;
    grpc::ClientContext context;
    return denoise->Denoise(&context, request, &response);
  };
  // A burst of small images: two per second pass, the rest are refused at once.
  int ok = 0, refused = 0;
  for (int i = 0; i < 6; ++i) {
    const auto status = call(16);
    if (status.ok()) {
      ++ok;
    } else {
      EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
      EXPECT_NE(status.error_message().find("quota requests_per_second"), std::string::npos)
          << status.error_message();
      ++refused;
    }
  }
  EXPECT_GE(ok, 2);
  EXPECT_GE(refused, 3);
  std::this_thread::sleep_for(1100ms);
  // 0.05 MP per second: one 400x400 image (0.16 MP, more than a second's worth) passes on a full
  // bucket and leaves it in debt for over 3 s, so the next one is over however slow the first.
  EXPECT_TRUE(call(400).ok());
  const auto status = call(400);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("quota megapixels_per_second"), std::string::npos)
      << status.error_message();
  EXPECT_GE(rejections("requests_per_second"), 3);
  EXPECT_EQ(rejections("megapixels_per_second"), 1);
  // Other roles are not rate limited.
  auto admin_denoise =
      v1::DenoiseService::NewStub(test::channel_with_token(coordinator_->address(), admin_));
  for (int i = 0; i < 4; ++i) {
    v1::DenoiseRequest request;
    request.set_image(encode_image(cv::Mat(16, 16, CV_8UC3, cv::Scalar(1, 2, 3)), "png"));
    v1::DenoiseResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(admin_denoise->Denoise(&context, request, &response).ok());
  }
}

}  // namespace
}  // namespace ern
