// The coordinator, workers and device farm as real processes on loopback: jobs run to a registered
// model, survive a worker or the coordinator being killed, stale leases cannot write, and cancel
// reaches the worker within a heartbeat.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/image_io.h"
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
using namespace std::chrono_literals;

constexpr int kHeartbeatMs = 300;
constexpr int kLeaseMs = 3000;

class CoordinatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    farm_dir_ = new test::TempDir();
    farm_ = test::start_quick_devicefarm(farm_dir_->path()).release();
  }
  static void TearDownTestSuite() {
    delete farm_;
    delete farm_dir_;
  }

  void SetUp() override { start_coordinator("127.0.0.1:0"); }

  void start_coordinator(const std::string& listen) {
    coordinator_ = std::make_unique<test::ServerProcess>(
        (test::bin_dir() / "ern-coordinator").string(),
        std::vector<std::string>{"--config",
                                 test::coordinator_config_without_scoring(dir_.path()).string(),
                                 "--listen", listen, "--data", (dir_ / "coordinator").string(),
                                 "--heartbeat-ms", std::to_string(kHeartbeatMs), "--lease-ms",
                                 std::to_string(kLeaseMs), "--devicefarm", farm_->address()},
        dir_ / ("coordinator-" + std::to_string(++coordinator_starts_) + ".log"));
    // The admin token it wrote on first start; ernctl reads it from ERN_TOKEN.
    token_ = test::admin_token(dir_ / "coordinator");
    setenv("ERN_TOKEN", token_.c_str(), 1);
    auto channel = test::channel_with_token(coordinator_->address(), token_);
    search_ = v1::SearchService::NewStub(channel);
    models_ = v1::ModelService::NewStub(channel);
    workers_ = v1::WorkerService::NewStub(channel);
  }

  std::unique_ptr<test::ServerProcess> start_worker(const std::string& name) {
    return test::start_test_worker(dir_.path(), coordinator_->address(), farm_->address(), name);
  }

  v1::Job submit(const std::string& spec_yaml) {
    v1::SubmitSearchJobRequest request;
    request.set_spec_yaml(spec_yaml);
    request.set_team("vision");
    return test::submit_search_job(*search_, request);
  }

  v1::Job get(const std::string& id) { return test::get_job(*search_, id); }

  v1::Job wait_for(const std::string& id, const std::function<bool(const v1::Job&)>& done,
                   std::chrono::seconds timeout,
                   const std::function<void(const v1::Job&)>& seen = nullptr) {
    return test::wait_for_job(*search_, id, done, timeout, seen);
  }

  static bool succeeded(const v1::Job& job) { return job.state() == v1::SUCCEEDED; }
  static bool ended(const v1::Job& job) {
    return job.state() == v1::SUCCEEDED || job.state() == v1::FAILED ||
           job.state() == v1::CANCELLED;
  }

  v1::Model model(const std::string& id) {
    v1::GetModelRequest request;
    request.set_id(id);
    v1::Model model;
    grpc::ClientContext context;
    const auto status = models_->GetModel(&context, request, &model);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return model;
  }

  static test::TempDir* farm_dir_;
  static test::ServerProcess* farm_;
  test::TempDir dir_;
  int coordinator_starts_ = 0;
  std::unique_ptr<test::ServerProcess> coordinator_;
  std::string token_;
  std::unique_ptr<v1::SearchService::Stub> search_;
  std::unique_ptr<v1::ModelService::Stub> models_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
};

test::TempDir* CoordinatorTest::farm_dir_ = nullptr;
test::ServerProcess* CoordinatorTest::farm_ = nullptr;

TEST_F(CoordinatorTest, SubmittedJobSucceedsAndRegistersItsModelWithReportAndLineage) {
  auto worker = start_worker("w1");
  const std::string spec = test::tiny_search_spec(40);
  const auto submitted = submit(spec);
  EXPECT_EQ(submitted.state(), v1::QUEUED);
  EXPECT_EQ(submitted.total_steps(), 10 + 40 + 2 * 10);
  const auto job = wait_for(submitted.id(), ended, 300s);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.failure_reason() << "\n" << worker->log();
  EXPECT_EQ(job.attempts(), 1);
  EXPECT_EQ(job.step(), job.total_steps());

  const auto registered = model(job.model());
  EXPECT_EQ(registered.source(), "search");
  EXPECT_EQ(registered.job_id(), job.id());
  EXPECT_EQ(registered.spec_yaml(), spec);
  EXPECT_EQ(registered.team(), "vision");
  EXPECT_TRUE(registered.is_default()) << "the first registered model becomes the default";
  const auto report = nlohmann::json::parse(registered.report_json());
  EXPECT_EQ(report["genotype"].size(), 4u);
  EXPECT_EQ(report["derived"]["params"].get<int64_t>(), registered.params());
  EXPECT_GT(report["baseline"]["latency_ms"].get<double>(), 0.0);
  // Lineage: the images the search read and the lookup-table rows it used.
  EXPECT_EQ(registered.lineage().data_sha256().size(), 64u);
  EXPECT_EQ(registered.lineage().latency_device(), "cpu-1t");
  EXPECT_EQ(registered.lineage().latency_table_sha256().size(), 64u);
  EXPECT_EQ(registered.lineage().latency_table_rows(), 4 * (5 + 1));  // 4 blocks x (5 + naf)

  // The scriptable view.
  const auto cli = test::run({(test::bin_dir() / "ernctl").string(), "search", "get", job.id(),
                              "--json", "--server", coordinator_->address()});
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  const auto json = nlohmann::json::parse(cli.output.substr(cli.output.find('{')));
  for (const char* key : {"id", "state", "stage", "step", "total_steps", "attempts",
                          "checkpoint_step", "resumed_from_step", "worker", "model"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
  EXPECT_EQ(json["state"], "SUCCEEDED");
  EXPECT_EQ(json["model"], job.model());

  // Denoise through the service (the default model) equals the same model run locally.
  fs::path photo;
  for (const auto& entry : fs::directory_iterator(test::test_data_dir() / "val")) {
    photo = entry.path();
    break;
  }
  const auto ernctl = (test::bin_dir() / "ernctl").string();
  ASSERT_EQ(test::run({ernctl, "noise", photo.string(), "--sigma", "25", "-o",
                       (dir_ / "noisy.png").string()})
                .exit_code,
            0);
  const auto served =
      test::run({ernctl, "denoise", (dir_ / "noisy.png").string(), "-o",
                 (dir_ / "served.png").string(), "--server", coordinator_->address()});
  ASSERT_EQ(served.exit_code, 0) << served.output;
  EXPECT_NE(served.output.find(job.model()), std::string::npos) << served.output;
  const auto local =
      test::run({ernctl, "denoise", "--local",
                 (dir_ / "coordinator" / "artifacts" / "models" / registered.sha256()).string(),
                 (dir_ / "noisy.png").string(), "-o", (dir_ / "local.png").string()});
  ASSERT_EQ(local.exit_code, 0) << local.output;
  // The serving path folds constants and tiles differently: equal up to float rounding.
  const cv::Mat served_image = read_image(dir_ / "served.png");
  const cv::Mat local_image = read_image(dir_ / "local.png");
  ASSERT_EQ(served_image.size(), local_image.size());
  double max_difference = 0;
  cv::Mat difference;
  cv::absdiff(served_image, local_image, difference);
  cv::minMaxLoc(difference.reshape(1), nullptr, &max_difference);
  EXPECT_LE(max_difference, 1.0) << "served and local outputs differ by more than rounding";
}

TEST_F(CoordinatorTest, DenoiseRejectsBadRequestsNamingTheField) {
  auto denoise =
      v1::DenoiseService::NewStub(test::channel_with_token(coordinator_->address(), token_));
  const auto call = [&](const std::string& image, const std::string& model) {
    v1::DenoiseRequest request;
    request.set_image(image);
    request.set_model(model);
    v1::DenoiseResponse response;
    grpc::ClientContext context;
    return denoise->Denoise(&context, request, &response);
  };
  auto status = call("", "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("image"), std::string::npos);
  status = call("not an image at all", "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("image"), std::string::npos);
  const std::string png_header("\x89PNG\r\n\x1a\n damaged", 16);
  EXPECT_EQ(call(png_header, "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  fs::path photo;
  for (const auto& entry : fs::directory_iterator(test::test_data_dir() / "val")) {
    photo = entry.path();
    break;
  }
  std::ifstream in(photo, std::ios::binary);
  const std::string image(std::istreambuf_iterator<char>(in), {});
  status = call(image, "");
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << "no default model yet";
  EXPECT_NE(status.error_message().find("model"), std::string::npos);
  EXPECT_EQ(call(image, "no-such-model").error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(CoordinatorTest, BadRequestsNameTheField) {
  const auto expect_invalid = [&](v1::SubmitSearchJobRequest request, const std::string& field) {
    v1::Job job;
    grpc::ClientContext context;
    const auto status = search_->SubmitSearchJob(&context, request, &job);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_NE(status.error_message().find(field), std::string::npos) << status.error_message();
  };
  v1::SubmitSearchJobRequest request;
  request.set_spec_yaml(test::tiny_search_spec(40));
  request.set_priority(101);
  expect_invalid(request, "priority");
  request.set_priority(0);
  request.set_team("no spaces");
  expect_invalid(request, "team");
  request.set_team("");
  request.set_spec_yaml("name: x\ntraining: {batch: 0}\n");
  expect_invalid(request, "spec_yaml: training.batch");
  request.set_spec_yaml(test::tiny_search_spec(40) + "extra: 1\n");
  expect_invalid(request, "extra");
  std::string wrong_device = test::tiny_search_spec(40);
  wrong_device.replace(wrong_device.find("cpu-1t"), 6, "sm8650");
  request.set_spec_yaml(wrong_device);
  expect_invalid(request, "device");

  v1::GetJobRequest missing;
  missing.set_id("job-999999");
  v1::Job job;
  grpc::ClientContext context;
  EXPECT_EQ(search_->GetJob(&context, missing, &job).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(CoordinatorTest, ListJobsFiltersByTeamAndStateAndPagesNewestFirst) {
  std::vector<std::string> ids;
  for (const char* team : {"a", "b", "a"}) {
    v1::SubmitSearchJobRequest request;
    request.set_spec_yaml(test::tiny_search_spec(40));
    request.set_team(team);
    v1::Job job;
    grpc::ClientContext context;
    ASSERT_TRUE(search_->SubmitSearchJob(&context, request, &job).ok());
    ids.push_back(job.id());
  }
  const auto list = [&](const std::string& team, v1::JobState state, int page_size,
                        const std::string& token) {
    v1::ListJobsRequest request;
    request.set_team(team);
    request.set_state(state);
    request.set_page_size(page_size);
    request.set_page_token(token);
    v1::ListJobsResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(search_->ListJobs(&context, request, &response).ok());
    return response;
  };
  const auto first = list("a", v1::QUEUED, 1, "");
  ASSERT_EQ(first.jobs_size(), 1);
  EXPECT_EQ(first.jobs(0).id(), ids[2]);
  ASSERT_FALSE(first.next_page_token().empty());
  const auto second = list("a", v1::QUEUED, 1, first.next_page_token());
  ASSERT_EQ(second.jobs_size(), 1);
  EXPECT_EQ(second.jobs(0).id(), ids[0]);
  EXPECT_TRUE(second.next_page_token().empty()) << "two jobs of team a, two pages";
  EXPECT_EQ(list("", v1::JOB_STATE_UNSPECIFIED, 100, "").jobs_size(), 3);
  EXPECT_EQ(list("", v1::RUNNING, 100, "").jobs_size(), 0);
}

TEST_F(CoordinatorTest, WorkerKilledDuringSearchIsResumedByAnotherFromTheLastCheckpoint) {
  auto first = start_worker("w1");
  const auto submitted = submit(test::tiny_search_spec(600));
  wait_for(
      submitted.id(),
      [](const v1::Job& job) { return job.stage() == "SEARCH" && job.checkpoint_step() >= 30; },
      300s);
  first->kill_hard();
  const int64_t checkpoint = get(submitted.id()).checkpoint_step();
  ASSERT_GT(checkpoint, 0);

  auto second = start_worker("w2");
  int64_t lowest_step_on_second = INT64_MAX;
  const auto job = wait_for(submitted.id(), ended, 300s, [&](const v1::Job& seen) {
    if (seen.attempts() == 2 && seen.state() == v1::RUNNING) {
      lowest_step_on_second = std::min(lowest_step_on_second, seen.step());
    }
  });
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.failure_reason() << "\n" << second->log();
  EXPECT_EQ(job.attempts(), 2);
  EXPECT_EQ(job.resumed_from_step(), checkpoint);
  EXPECT_GE(lowest_step_on_second, checkpoint) << "the second worker started over";
  EXPECT_NE(job.worker().find("w2"), std::string::npos);
  EXPECT_NE(
      second->log().find("resuming from the checkpoint at step " + std::to_string(checkpoint)),
      std::string::npos)
      << second->log();
}

TEST_F(CoordinatorTest, CoordinatorKilledMidJobRestartsWithJobsProgressAndModelsIntact) {
  // A model in the registry before the crash.
  const auto ernctl = (test::bin_dir() / "ernctl").string();
  auto made = test::run({ernctl, "model", "init", "--width", "8", "--enc", "1,1", "--middle", "1",
                         "--dec", "1,1", "-o", (dir_ / "imported").string()});
  ASSERT_EQ(made.exit_code, 0) << made.output;
  auto imported = test::run({ernctl, "models", "import", (dir_ / "imported").string(), "--server",
                             coordinator_->address()});
  ASSERT_EQ(imported.exit_code, 0) << imported.output;

  auto worker = start_worker("w1");
  const auto submitted = submit(test::tiny_search_spec(600));
  const auto before = wait_for(
      submitted.id(),
      [](const v1::Job& job) { return job.stage() == "SEARCH" && job.checkpoint_step() >= 30; },
      300s);
  const std::string address = coordinator_->address();
  coordinator_->kill_hard();
  start_coordinator(address);  // same data directory, same port: the worker finds it again

  const auto after = get(submitted.id());
  EXPECT_TRUE(after.state() == v1::RUNNING || after.state() == v1::QUEUED)
      << after.ShortDebugString();
  EXPECT_GE(after.checkpoint_step(), before.checkpoint_step());
  EXPECT_GE(after.step(), before.checkpoint_step());
  EXPECT_EQ(after.spec_yaml(), submitted.spec_yaml());
  EXPECT_EQ(model("imported").source(), "import");

  const auto job = wait_for(submitted.id(), ended, 300s);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.failure_reason() << "\n" << worker->log();
  v1::ListModelsResponse listed;
  grpc::ClientContext context;
  ASSERT_TRUE(models_->ListModels(&context, {}, &listed).ok());
  EXPECT_EQ(listed.models_size(), 2);
}

TEST_F(CoordinatorTest, WorkerWhoseLeaseExpiredCannotWrite) {
  // Two workers over the raw WorkerService: the first leases the job and goes silent.
  const auto progress = [&](const v1::Lease& lease, int64_t step) {
    v1::ReportProgressRequest request;
    *request.mutable_lease() = lease;
    request.set_stage("SEARCH");
    request.set_step(step);
    request.set_total_steps(70);
    v1::LeaseStatus response;
    grpc::ClientContext context;
    return workers_->ReportProgress(&context, request, &response);
  };
  const auto upload_checkpoint = [&](const v1::Lease& lease, int64_t step) {
    return test::upload_checkpoint(*workers_, lease, step, 1, "ERNAR1\n");
  };

  const auto submitted = submit(test::tiny_search_spec(40));
  const std::string silent = test::register_worker(*workers_, "silent");
  const auto first = test::acquire_task(*workers_, silent);
  ASSERT_TRUE(first.assigned());
  ASSERT_TRUE(progress(first.lease(), 5).ok());
  ASSERT_TRUE(upload_checkpoint(first.lease(), 5).ok());

  // No heartbeats: the lease expires and the job goes back to the queue, to be leased again once
  // its backoff has passed.
  const auto queued = wait_for(
      submitted.id(), [](const v1::Job& job) { return job.state() == v1::QUEUED; },
      std::chrono::seconds(kLeaseMs / 1000 + 10));
  std::this_thread::sleep_until(std::chrono::system_clock::time_point(
      std::chrono::milliseconds(queued.not_before_unix_ms() + 50)));
  const auto second = test::acquire_task(*workers_, test::register_worker(*workers_, "successor"));
  ASSERT_TRUE(second.assigned());
  EXPECT_NE(second.lease().fencing_token(), first.lease().fencing_token());
  EXPECT_GE(second.lease().fencing_token().size(), 32u) << "128 random bits or more";
  EXPECT_EQ(second.checkpoint_step(), 5);

  // The first worker comes back: every write is refused, nothing changes.
  EXPECT_EQ(progress(first.lease(), 50).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(upload_checkpoint(first.lease(), 50).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  {
    v1::CompleteTaskRequest request;
    *request.mutable_lease() = first.lease();
    request.set_model_sha256("0");
    v1::LeaseStatus response;
    grpc::ClientContext context;
    EXPECT_EQ(workers_->CompleteTask(&context, request, &response).error_code(),
              grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    v1::HeartbeatRequest request;
    request.set_worker_id(silent);
    *request.mutable_lease() = first.lease();
    v1::HeartbeatResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(workers_->Heartbeat(&context, request, &response).ok());
    EXPECT_FALSE(response.lease().valid());
  }
  auto job = get(submitted.id());
  EXPECT_EQ(job.checkpoint_step(), 5);
  EXPECT_EQ(job.attempts(), 2);

  // The current holder writes fine.
  EXPECT_TRUE(progress(second.lease(), 20).ok());
  EXPECT_TRUE(upload_checkpoint(second.lease(), 20).ok());
  job = get(submitted.id());
  EXPECT_EQ(job.checkpoint_step(), 20);
  EXPECT_EQ(job.step(), 20);
}

TEST_F(CoordinatorTest, CancelReachesTheWorkerWithinOneHeartbeatAndFreesIt) {
  auto worker = start_worker("w1");
  const auto long_job = submit(test::tiny_search_spec(2000));
  wait_for(
      long_job.id(), [](const v1::Job& job) { return job.stage() == "SEARCH"; }, 300s);

  v1::CancelJobRequest request;
  request.set_id(long_job.id());
  v1::Job cancelled;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(search_->CancelJob(&context, request, &cancelled).ok());
  }
  const auto cancelled_at = std::chrono::steady_clock::now();
  EXPECT_EQ(cancelled.state(), v1::CANCELLED);
  // The worker learns it from its next heartbeat or progress report, whichever comes first.
  ASSERT_TRUE(worker->wait_for_log(long_job.id() + ": stopped", 10s)) << worker->log();
  const auto noticed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - cancelled_at)
                              .count();
  // One heartbeat interval, plus one training step and the time this test takes to poll the log.
  EXPECT_LE(noticed_ms, kHeartbeatMs + 700);
  EXPECT_EQ(get(long_job.id()).state(), v1::CANCELLED);

  // The worker is free: the next job runs on it.
  const auto next = submit(test::tiny_search_spec(40));
  const auto job = wait_for(next.id(), ended, 300s);
  EXPECT_EQ(job.state(), v1::SUCCEEDED) << job.failure_reason();
  EXPECT_EQ(job.worker(), cancelled.worker());

  // An ended job cannot be cancelled.
  request.set_id(next.id());
  grpc::ClientContext context;
  EXPECT_EQ(search_->CancelJob(&context, request, &cancelled).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

// M9: a spec's data and init_model are paths on the worker; outside its data roots (/etc, a home
// directory) the job fails at once, without the worker opening them and without naming its roots.
TEST_F(CoordinatorTest, SpecPathsOutsideTheWorkersDataRootsFailTheJob) {
  auto worker = start_worker("w1");
  const std::string data_line = "data: " + test::test_data_dir().string() + "\n";
  for (const auto& [field, line] : {std::pair<std::string, std::string>{"data", "data: /etc\n"},
                                    {"init_model", "init_model: /root\n"}}) {
    std::string spec = test::tiny_search_spec(10);
    if (field == "data") spec.replace(spec.find(data_line), data_line.size(), "");
    spec += line;
    const auto job = wait_for(submit(spec).id(), ended, 60s);
    EXPECT_EQ(job.state(), v1::FAILED) << field;
    EXPECT_NE(job.failure_reason().find("spec " + field + ": outside the directories"),
              std::string::npos)
        << job.failure_reason();
    EXPECT_EQ(job.failure_reason().find(test::test_data_dir().string()), std::string::npos);
    EXPECT_EQ(job.attempts(), 1) << "not retried: every worker would refuse it";
  }
}

}  // namespace
}  // namespace ern
