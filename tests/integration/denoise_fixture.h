#pragma once
// A real ern-coordinator on loopback with two tiny registered models, for the Denoise tests.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>

#include <opencv2/core.hpp>

#include "common/image_io.h"
#include "ern/v1/denoise.grpc.pb.h"
#include "tests/test_support.h"

namespace ern {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Resident memory of a process, in bytes: now (VmRSS) or at its peak so far (VmHWM).
inline int64_t resident_bytes(int pid, const std::string& field = "VmRSS") {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stoll(line.substr(field.size() + 1)) * 1024;
  }
  return -1;
}

inline cv::Mat random_image(int rows, int cols, int type, uint64_t seed = 1) {
  cv::Mat image(rows, cols, type);
  cv::RNG rng(seed);
  rng.fill(image, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_16U ? 65535 : 255);
  return image;
}

class DenoiseTest : public ::testing::Test {
 protected:
  // A coordinator with `serving` options (empty: the shipped configs/coordinator.yaml, without
  // scoring) and two tiny registered models ("first" the default).
  void start(const std::string& serving_yaml) {
    fs::path config = test::coordinator_config_without_scoring(dir_.path());
    if (!serving_yaml.empty()) {
      config = dir_ / "coordinator.yaml";
      std::ofstream(config) << "serving: " << serving_yaml << "\n";
    }
    coordinator_ = std::make_unique<test::ServerProcess>(
        (test::bin_dir() / "ern-coordinator").string(),
        std::vector<std::string>{"--config", config.string(), "--listen", "127.0.0.1:0", "--data",
                                 (dir_ / "coordinator").string()},
        dir_ / "coordinator.log");
    token_ = test::admin_token(dir_ / "coordinator");
    setenv("ERN_TOKEN", token_.c_str(), 1);  // for ernctl
    channel_ = test::channel_with_token(coordinator_->address(), token_);
    denoise_ = v1::DenoiseService::NewStub(channel_);
    const auto ernctl = (test::bin_dir() / "ernctl").string();
    for (const std::string name : {"first", "second"}) {
      const auto model_dir = dir_ / name;
      auto made = test::run({ernctl, "model", "init", "--width", "8", "--enc", "1,1", "--middle",
                             "1", "--dec", "1,1", "--seed", name == "first" ? "1" : "2", "-o",
                             model_dir.string()});
      ASSERT_EQ(made.exit_code, 0) << made.output;
      auto imported = test::run({ernctl, "models", "import", model_dir.string(), "--name", name,
                                 "--server", coordinator_->address()});
      ASSERT_EQ(imported.exit_code, 0) << imported.output;
    }
  }

  grpc::Status call(const v1::DenoiseRequest& request, v1::DenoiseResponse* response,
                    std::chrono::milliseconds timeout = 60s) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    return denoise_->Denoise(&context, request, response);
  }

  v1::DenoiseRequest encoded(const cv::Mat& image, const std::string& format = "png") {
    v1::DenoiseRequest request;
    request.set_image(encode_image(image, format));
    return request;
  }

  test::TempDir dir_;
  std::unique_ptr<test::ServerProcess> coordinator_;
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::DenoiseService::Stub> denoise_;
};

}  // namespace ern
