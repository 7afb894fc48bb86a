// Findings of the security review about the model registry, against a real coordinator on
// loopback: listings paged and free of reports (M5), reports and model.json bounded, concurrent
// identical imports (M8), and failed imports that used to leave their files behind (H6).

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <thread>

#include <opencv2/core.hpp>

#include "common/dir_archive.h"
#include "common/image_io.h"
#include "ern/v1/denoise.grpc.pb.h"
#include "ern/v1/models.grpc.pb.h"
#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;

class RegistryHardeningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    coordinator_ = test::start_coordinator(dir_.path());
    token_ = test::admin_token(dir_ / "coordinator");
    models_ = v1::ModelService::NewStub(test::channel_with_token(coordinator_->address(), token_));
    const auto made = test::run({ernctl(), "model", "init", "--width", "8", "--enc", "1,1",
                                 "--middle", "1", "--dec", "1,1", "-o", model_dir().string()});
    ASSERT_EQ(made.exit_code, 0) << made.output;
  }

  std::string ernctl() const { return (test::bin_dir() / "ernctl").string(); }
  fs::path model_dir() const { return dir_ / "model"; }

  // ImportModel of `directory` packed as it is, under `name`.
  grpc::Status import(const fs::path& directory, const std::string& name, v1::Model* model) {
    const auto archive = dir_ / (name + ".ernar");
    pack_directory(directory, archive);
    std::ifstream in(archive, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    grpc::ClientContext context;
    auto writer = models_->ImportModel(&context, model);
    v1::ImportModelRequest header;
    header.mutable_header()->set_name(name);
    writer->Write(header);
    for (size_t at = 0; at < bytes.size(); at += 1 << 20) {
      v1::ImportModelRequest chunk;
      chunk.set_data(bytes.substr(at, 1 << 20));
      if (!writer->Write(chunk)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  // Names of files and folders in the coordinator's model store and upload area.
  std::set<std::string> stored_entries() const {
    std::set<std::string> entries;
    for (const char* area : {"models", "incoming"}) {
      for (const auto& entry : fs::directory_iterator(dir_ / "coordinator" / "artifacts" / area)) {
        entries.insert(std::string(area) + "/" + entry.path().filename().string());
      }
    }
    return entries;
  }

  test::TempDir dir_;
  std::unique_ptr<test::ServerProcess> coordinator_;
  std::string token_;
  std::unique_ptr<v1::ModelService::Stub> models_;
};

// M5: two imports with huge reports pushed ListModels over the message limit for everyone.
TEST_F(RegistryHardeningTest, ReportsAreBoundedAndListingsArePagedWithoutThem) {
  v1::Model model;
  std::ofstream(model_dir() / "report.json")
      << "{\"note\": \"" << std::string(2 << 20, 'x') << "\"}";
  auto status = import(model_dir(), "huge-report", &model);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("report.json is"), std::string::npos)
      << status.error_message();

  std::ofstream(model_dir() / "report.json")
      << "{\"note\": \"" << std::string(300 << 10, 'x') << "\"}";
  for (int i = 0; i < 5; ++i) {
    status = import(model_dir(), "m" + std::to_string(i), &model);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  std::vector<std::string> names;
  v1::ListModelsRequest request;
  request.set_page_size(2);
  do {
    v1::ListModelsResponse page;
    grpc::ClientContext context;
    ASSERT_TRUE(models_->ListModels(&context, request, &page).ok());
    EXPECT_LE(page.models_size(), 2);
    for (const auto& listed : page.models()) {
      EXPECT_TRUE(listed.report_json().empty()) << "listings leave reports to GetModel";
      names.push_back(listed.name());
    }
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  EXPECT_EQ(names, (std::vector<std::string>{"m4", "m3", "m2", "m1", "m0"}));

  v1::GetModelRequest get;
  get.set_id("m0");
  grpc::ClientContext context;
  ASSERT_TRUE(models_->GetModel(&context, get, &model).ok());
  EXPECT_GT(model.report_json().size(), 300u << 10);

  request.set_page_token("not-a-token");
  v1::ListModelsResponse page;
  grpc::ClientContext bad_context;
  status = models_->ListModels(&bad_context, request, &page);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("page_token"), std::string::npos);
}

// M8: identical imports at once shared one unpacking directory and raced on it.
TEST_F(RegistryHardeningTest, ConcurrentIdenticalImportsAllSucceed) {
  std::vector<std::thread> importers;
  std::vector<grpc::Status> statuses(6);
  for (int i = 0; i < 6; ++i) {
    importers.emplace_back([&, i] {
      v1::Model model;
      statuses[i] = import(model_dir(), "same-" + std::to_string(i), &model);
    });
  }
  for (auto& importer : importers) importer.join();
  for (const auto& status : statuses) EXPECT_TRUE(status.ok()) << status.error_message();
  const auto entries = stored_entries();
  // One archive and one unpacked directory for the six, nothing left in incoming/.
  EXPECT_EQ(entries.size(), 2u) << ::testing::PrintToString(entries);
  const auto served = test::run({ernctl(), "denoise", (test::test_data_dir() / "val").string(),
                                 "-o", (dir_ / "out").string(), "--model", "same-3", "--server",
                                 coordinator_->address(), "--token", token_});
  EXPECT_EQ(served.exit_code, 0) << served.output;
}

// H6: an import refused after its upload (bad model.json, a taken name) left its archive and its
// unpacked directory in the store forever.
TEST_F(RegistryHardeningTest, RefusedImportsLeaveNoFilesBehind) {
  v1::Model model;
  ASSERT_TRUE(import(model_dir(), "kept", &model).ok());
  const auto before = stored_entries();

  auto status = import(model_dir(), "kept", &model);  // same files, taken name
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS) << status.error_message();
  EXPECT_EQ(stored_entries(), before) << "the registered model's files stay";

  std::ofstream(model_dir() / "model.json") << "{\"architecture\": {\"width\": -3}}";
  status = import(model_dir(), "broken", &model);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find("data: model.json"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(stored_entries(), before) << "nothing of the refused import stays";
}

// A model.json asking for a serving precision the engine has not is refused at the upload,
// naming the field, rather than failing every Denoise later.
TEST_F(RegistryHardeningTest, AnUnknownServingPrecisionIsRefusedNamingTheField) {
  auto json = nlohmann::json::parse(std::ifstream(model_dir() / "model.json"));
  json["metadata"]["serving_precision"] = "fp8";
  std::ofstream(model_dir() / "model.json") << json.dump();
  v1::Model model;
  const auto status = import(model_dir(), "fp8", &model);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_NE(status.error_message().find(
                "metadata.serving_precision: 'fp8' is not one of fp32, bf16, int8"),
            std::string::npos)
      << status.error_message();
}

TEST_F(RegistryHardeningTest, AnInt8ModelNeedsAWellFormedCalibration) {
  auto json = nlohmann::json::parse(std::ifstream(model_dir() / "model.json"));
  json["metadata"]["serving_precision"] = "int8";
  const auto refused = [&](const std::string& name, const std::string& message) {
    std::ofstream(model_dir() / "model.json") << json.dump();
    v1::Model model;
    const auto status = import(model_dir(), name, &model);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_NE(status.error_message().find(message), std::string::npos) << status.error_message();
  };
  refused("uncalibrated", "metadata.int8_calibration: missing");
  nlohmann::json block = {{"attention_input", 1.0},
                          {"projection_input", {1.0, 2.0}},
                          {"feed_input", 1.0},
                          {"feed_output_input", {1.0, -3.0}}};
  json["metadata"]["int8_calibration"] = {{"encoders.0.0", block}};
  refused("negative",
          "metadata.int8_calibration.encoders.0.0.feed_output_input: must be a finite positive");
  block["feed_output_input"] = std::vector<double>(100000, 1.0);
  json["metadata"]["int8_calibration"] = {{"encoders.0.0", block}};
  refused("long", "metadata.int8_calibration.encoders.0.0.feed_output_input: must be an array of");
  block["feed_output_input"] = {1.0, 1.0};
  json["metadata"]["int8_calibration"] = nlohmann::json::object();
  for (int i = 0; i < 1000; ++i) {
    json["metadata"]["int8_calibration"]["b" + std::to_string(i)] = block;
  }
  refused("oversized", "metadata.int8_calibration: must be an object of at most");
}

// Low: a model that failed to load told the caller the server's paths.
TEST_F(RegistryHardeningTest, AModelThatCannotLoadFailsWithoutShowingServerPaths) {
  v1::Model model;
  ASSERT_TRUE(import(model_dir(), "damaged", &model).ok());
  std::ofstream(
      dir_ / "coordinator" / "artifacts" / "models" / model.sha256() / "weights.safetensors",
      std::ios::trunc)
      << "not weights";
  auto denoise =
      v1::DenoiseService::NewStub(test::channel_with_token(coordinator_->address(), token_));
  v1::DenoiseRequest request;
  request.set_model("damaged");
  request.set_image(encode_image(cv::Mat(16, 16, CV_8UC3, cv::Scalar(1, 2, 3)), "png"));
  v1::DenoiseResponse response;
  grpc::ClientContext context;
  const auto status = denoise->Denoise(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_NE(status.error_message().find("could not be loaded"), std::string::npos)
      << status.error_message();
  EXPECT_EQ(status.error_message().find(dir_.path().string()), std::string::npos)
      << status.error_message();
  EXPECT_TRUE(coordinator_->wait_for_log("weights.safetensors", std::chrono::seconds(5)))
      << "the reason is in the server's log";
}

}  // namespace
}  // namespace ern
