// Findings of the security review, each against a real coordinator on loopback: uploads refused
// before they cost disk, hashes that are paths, a stale upload that deleted the acknowledged
// checkpoint, free-form strings in metric labels, NaN in progress reports, name squatting,
// watch streams without a cap.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "ern/v1/denoise.grpc.pb.h"
#include "ern/v1/models.grpc.pb.h"
#include "ern/v1/search.grpc.pb.h"
#include "ern/v1/worker.grpc.pb.h"
#include "tests/raw_worker_calls.h"
#include "tests/search_jobs.h"
#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;
using grpc::StatusCode;
using namespace std::chrono_literals;

int64_t directory_bytes(const fs::path& directory) {
  int64_t bytes = 0;
  for (const auto& entry : fs::recursive_directory_iterator(directory)) {
    if (entry.is_regular_file()) bytes += static_cast<int64_t>(entry.file_size());
  }
  return bytes;
}

class HardeningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    coordinator_ = std::make_unique<test::ServerProcess>(
        (test::bin_dir() / "ern-coordinator").string(),
        std::vector<std::string>{
            "--config", test::coordinator_config_without_scoring(dir_.path()).string(), "--listen",
            "127.0.0.1:0", "--data", (dir_ / "coordinator").string(), "--heartbeat-ms", "100",
            "--lease-ms", "600"},
        dir_ / "coordinator.log");
    auto channel =
        test::channel_with_token(coordinator_->address(), test::admin_token(dir_ / "coordinator"));
    search_ = v1::SearchService::NewStub(channel);
    workers_ = v1::WorkerService::NewStub(channel);
    models_ = v1::ModelService::NewStub(channel);
  }

  std::string register_worker(const std::string& name) {
    return test::register_worker(*workers_, name);
  }

  // A job leased to a new worker.
  v1::AcquireTaskResponse leased_job() {
    test::submit_search_job(*search_, test::tiny_search_spec(20));
    return acquire(register_worker("w"));
  }

  v1::AcquireTaskResponse acquire(const std::string& worker) {
    auto response = test::acquire_task(*workers_, worker);
    EXPECT_TRUE(response.assigned());
    return response;
  }

  // Header, then `chunks` chunks of 1 MiB (until the server stops reading).
  grpc::Status upload_checkpoint(const v1::Lease& lease, int64_t step, int chunks,
                                 const std::string& content = "") {
    return test::upload_checkpoint(*workers_, lease, step, chunks,
                                   content.empty() ? std::string(1 << 20, 'x') : content);
  }

  grpc::Status report(const v1::Lease& lease, const std::string& stage, double loss) {
    v1::ReportProgressRequest request;
    *request.mutable_lease() = lease;
    request.set_stage(stage);
    request.set_step(1);
    request.set_total_steps(40);
    request.set_loss(loss);
    v1::LeaseStatus response;
    grpc::ClientContext context;
    return workers_->ReportProgress(&context, request, &response);
  }

  test::TempDir dir_;
  std::unique_ptr<test::ServerProcess> coordinator_;
  std::unique_ptr<v1::SearchService::Stub> search_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
  std::unique_ptr<v1::ModelService::Stub> models_;
};

TEST_F(HardeningTest, UploadForAJobWithoutALeaseIsRefusedBeforeItsBytesAreStored) {
  v1::Lease lease;
  lease.set_job_id("job-999999");
  lease.set_fencing_token("lease-0123456789abcdef0123456789abcdef");
  const auto status = upload_checkpoint(lease, 5, 64);
  EXPECT_EQ(status.error_code(), StatusCode::FAILED_PRECONDITION) << status.error_message();
  EXPECT_LT(directory_bytes(dir_ / "coordinator" / "artifacts"), 1 << 20)
      << "refused before the data reached the disk";
}

TEST_F(HardeningTest, ModelHashFromAWorkerIsAHashNotAPath) {
  const auto task = leased_job();
  v1::CompleteTaskRequest request;
  *request.mutable_lease() = task.lease();
  request.set_model_sha256("../../outside/dir");
  v1::LeaseStatus response;
  grpc::ClientContext context;
  const auto status = workers_->CompleteTask(&context, request, &response);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("model_sha256: must be a SHA-256"), std::string::npos)
      << status.error_message();
}

TEST_F(HardeningTest, StaleUploadOfTheSameContentKeepsTheAcknowledgedCheckpoint) {
  const auto first = leased_job();
  const std::string content = "ERNAR1\nthe same bytes twice";
  ASSERT_TRUE(upload_checkpoint(first.lease(), 5, 1, content).ok());
  // No heartbeats: the lease expires (600 ms) and, after the retry's backoff, a second worker
  // takes the job.
  const auto successor = register_worker("successor");
  v1::AcquireTaskResponse second;
  for (int polls = 0; polls < 100 && !second.assigned(); ++polls) {
    std::this_thread::sleep_for(100ms);
    second = test::acquire_task(*workers_, successor);
  }
  ASSERT_TRUE(second.assigned());
  ASSERT_EQ(second.checkpoint_step(), 5);
  EXPECT_EQ(upload_checkpoint(first.lease(), 6, 1, content).error_code(),
            StatusCode::FAILED_PRECONDITION);

  v1::DownloadCheckpointRequest download;
  *download.mutable_lease() = second.lease();
  grpc::ClientContext context;
  auto reader = workers_->DownloadCheckpoint(&context, download);
  v1::DownloadChunk chunk;
  std::string received;
  while (reader->Read(&chunk)) received += chunk.data();
  const auto status = reader->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(received, content);
}

TEST_F(HardeningTest, ProgressReportsCarryKnownStagesAndFiniteNumbers) {
  const auto task = leased_job();
  EXPECT_TRUE(report(task.lease(), "SEARCH", 0.5).ok());
  auto status = report(task.lease(), "stage-300", 0.5);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("stage:"), std::string::npos) << status.error_message();
  status = report(task.lease(), "SEARCH", std::nan(""));
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("loss: must be finite"), std::string::npos);
  EXPECT_EQ(status.error_message().find(".db"), std::string::npos) << "no server path";
}

TEST_F(HardeningTest, ImportsCannotTakeASearchedModelsNameOrADotName) {
  const auto ernctl = (test::bin_dir() / "ernctl").string();
  const auto model = dir_ / "m";
  ASSERT_EQ(test::run({ernctl, "model", "init", "--width", "8", "--enc", "1,1", "--middle", "1",
                       "--dec", "1,1", "-o", model.string()})
                .exit_code,
            0);
  const auto token = test::admin_token(dir_ / "coordinator");
  for (const std::string name : {"demo-job-000004", ".."}) {
    const auto imported = test::run({ernctl, "models", "import", model.string(), "--name", name,
                                     "--server", coordinator_->address(), "--token", token});
    EXPECT_EQ(imported.exit_code, 1) << imported.output;
    EXPECT_NE(imported.output.find("INVALID_ARGUMENT: header.name"), std::string::npos)
        << imported.output;
  }
  EXPECT_LT(directory_bytes(dir_ / "coordinator" / "artifacts"), 1 << 20)
      << "refused imports leave nothing behind";
}

// M2: watches are capped, and past the cap the coordinator still answers everything else.
TEST_F(HardeningTest, WatchStreamsAreCappedAndHeartbeatsStillPass) {
  constexpr int kCap = 128;  // server/search_service.h kMaxWatchStreams
  v1::SubmitSearchJobRequest submit;
  submit.set_spec_yaml(test::tiny_search_spec(20));
  v1::Job job;
  grpc::ClientContext submit_context;
  ASSERT_TRUE(search_->SubmitSearchJob(&submit_context, submit, &job).ok());
  v1::WatchJobRequest watch;
  watch.set_id(job.id());
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::JobEvent>>> streams;
  for (int i = 0; i < kCap; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    streams.push_back(search_->WatchJob(contexts.back().get(), watch));
    v1::JobEvent snapshot;
    ASSERT_TRUE(streams.back()->Read(&snapshot)) << "watch " << i;
  }
  grpc::ClientContext over_context;
  auto over = search_->WatchJob(&over_context, watch);
  v1::JobEvent event;
  EXPECT_FALSE(over->Read(&event));
  const auto refused = over->Finish();
  EXPECT_EQ(refused.error_code(), StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();

  const auto worker = register_worker("w");
  v1::HeartbeatRequest heartbeat;
  heartbeat.set_worker_id(worker);
  v1::HeartbeatResponse beat;
  grpc::ClientContext heartbeat_context;
  heartbeat_context.set_deadline(std::chrono::system_clock::now() + 10s);
  EXPECT_TRUE(workers_->Heartbeat(&heartbeat_context, heartbeat, &beat).ok());

  for (auto& context : contexts) context->TryCancel();
  for (auto& stream : streams) stream->Finish();
  // The slots come back once the server sees the cancellations: a new watch is served.
  bool served = false;
  for (int attempt = 0; attempt < 100 && !served; ++attempt) {
    grpc::ClientContext again_context;
    auto again = search_->WatchJob(&again_context, watch);
    served = again->Read(&event);
    again_context.TryCancel();
    again->Finish();
    if (!served) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(served);
}

// Low: two coordinators on one data directory each cleared the other's uploads in progress.
TEST_F(HardeningTest, ASecondCoordinatorOnTheSameDataDirectoryRefusesToStart) {
  const auto second =
      test::run({(test::bin_dir() / "ern-coordinator").string(), "--listen", "127.0.0.1:0",
                 "--metrics-listen", "", "--data", (dir_ / "coordinator").string()});
  EXPECT_NE(second.exit_code, 0);
  EXPECT_NE(second.output.find("is in use by another process (pid " +
                               std::to_string(coordinator_->pid()) + ")"),
            std::string::npos)
      << second.output;
  EXPECT_FALSE(register_worker("still-served").empty()) << "the first coordinator still serves";
}

}  // namespace
}  // namespace ern
