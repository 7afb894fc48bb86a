// A device farm that comes and goes, with real processes on loopback: the worker waits for it
// (the job shows it) instead of spending attempts, a farm restarted mid-job costs nothing, a farm
// away longer than the retry budget fails the job with a reason naming it, and attempts that do
// fail are retried with backoff, never back to back. `ernctl search run-local` waits for the farm
// the same way.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "ern/v1/search.grpc.pb.h"
#include "tests/search_jobs.h"
#include "tests/test_support.h"

namespace ern {
namespace {

using namespace std::chrono_literals;

class DependencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    farm_address_ = "127.0.0.1:" + std::to_string(test::free_loopback_port());
    // The coordinator does not check devices itself, so a job is accepted while the farm is away.
    coordinator_ = std::make_unique<test::ServerProcess>(
        (test::bin_dir() / "ern-coordinator").string(),
        std::vector<std::string>{
            "--config", test::coordinator_config_without_scoring(dir_.path()).string(), "--listen",
            "127.0.0.1:0", "--data", (dir_ / "coordinator").string(), "--heartbeat-ms", "300",
            "--lease-ms", "3000"},
        dir_ / "coordinator.log");
    const auto token = test::admin_token(dir_ / "coordinator");
    search_ = v1::SearchService::NewStub(test::channel_with_token(coordinator_->address(), token));
  }

  void start_farm() {
    farm_ = test::start_quick_devicefarm(dir_.path(), farm_address_,
                                         "farm-" + std::to_string(++farm_starts_) + ".log");
  }

  void start_worker(int farm_retry_seconds) {
    worker_ = test::start_test_worker(dir_.path(), coordinator_->address(), farm_address_, "w1",
                                      {"--farm-retry-seconds", std::to_string(farm_retry_seconds)});
  }

  std::string submit(int search_steps) {
    return test::submit_search_job(*search_, test::tiny_search_spec(search_steps)).id();
  }

  v1::Job get(const std::string& id) { return test::get_job(*search_, id); }

  // As test::wait_for_job; a timeout also shows the worker's log.
  v1::Job wait_for(const std::string& id, const std::function<bool(const v1::Job&)>& done,
                   std::chrono::seconds timeout) {
    const auto job = test::wait_for_job(*search_, id, done, timeout);
    if (!done(job)) ADD_FAILURE() << "the worker's log:\n" << worker_->log();
    return job;
  }

  static bool waiting_for_farm(const v1::Job& job) { return job.waiting_for() == "device farm"; }
  static bool ended(const v1::Job& job) {
    return job.state() == v1::SUCCEEDED || job.state() == v1::FAILED;
  }

  test::TempDir dir_;
  std::string farm_address_;
  int farm_starts_ = 0;
  std::unique_ptr<test::ServerProcess> coordinator_, farm_, worker_;
  std::unique_ptr<v1::SearchService::Stub> search_;
};

TEST_F(DependencyTest, AFarmThatStartsLateCostsNoAttempt) {
  start_worker(120);
  const auto id = submit(20);
  const auto waiting = wait_for(id, waiting_for_farm, 60s);
  EXPECT_EQ(waiting.state(), v1::RUNNING);
  EXPECT_EQ(waiting.stage(), "WARMUP");
  std::this_thread::sleep_for(20s);  // the farm starts 20 s after the job
  EXPECT_EQ(get(id).attempts(), 1);
  start_farm();
  const auto job = wait_for(id, ended, 300s);
  EXPECT_EQ(job.state(), v1::SUCCEEDED) << job.failure_reason();
  EXPECT_EQ(job.attempts(), 1);
  EXPECT_TRUE(job.waiting_for().empty());
}

TEST_F(DependencyTest, AFarmRestartedDuringSearchAndEvaluateCostsNoAttempt) {
  start_farm();
  start_worker(120);
  const auto id = submit(60);
  wait_for(
      id, [](const v1::Job& job) { return job.stage() == "SEARCH"; }, 120s);
  farm_->kill_hard();
  std::this_thread::sleep_for(1s);
  start_farm();
  // Down from the fine-tune on, so the final measurement (EVALUATE) finds it away.
  wait_for(
      id, [](const v1::Job& job) { return job.stage() == "FINETUNE" || ended(job); }, 300s);
  farm_->kill_hard();
  const auto waiting = wait_for(id, waiting_for_farm, 120s);
  EXPECT_EQ(waiting.stage(), "EVALUATE");
  std::this_thread::sleep_for(2s);
  start_farm();
  const auto job = wait_for(id, ended, 300s);
  EXPECT_EQ(job.state(), v1::SUCCEEDED) << job.failure_reason();
  EXPECT_EQ(job.attempts(), 1);
}

TEST_F(DependencyTest, AFarmAwayLongerThanTheBudgetFailsTheJobNamingTheFarm) {
  start_worker(3);
  const auto id = submit(20);
  const auto job = wait_for(id, ended, 120s);
  EXPECT_EQ(job.state(), v1::FAILED);
  EXPECT_EQ(job.attempts(), 1);
  EXPECT_NE(job.failure_reason().find("device farm " + farm_address_ + " unreachable for 3 s"),
            std::string::npos)
      << job.failure_reason();
}

TEST_F(DependencyTest, FailedAttemptsAreRetriedWithBackoffNeverBackToBack) {
  // An attempt that ends without the job being done (here its worker is killed and the lease
  // lapses) sends the job back to the queue, to be leased again only after a pause.
  start_farm();
  start_worker(120);
  const auto id = submit(2000);
  wait_for(
      id, [](const v1::Job& job) { return job.stage() == "SEARCH"; }, 120s);
  worker_->kill_hard();
  const auto now_ms = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const auto requeued = wait_for(
      id, [](const v1::Job& job) { return job.state() == v1::QUEUED; }, 30s);
  EXPECT_EQ(requeued.attempts(), 1);
  EXPECT_GT(requeued.not_before_unix_ms() - now_ms(), 1500) << "the next attempt waits 2 s";
  start_worker(120);
  wait_for(
      id, [](const v1::Job& job) { return job.attempts() == 2; }, 60s);
  EXPECT_GE(now_ms(), requeued.not_before_unix_ms()) << "leased again before its time";
}

TEST_F(DependencyTest, RunLocalWaitsForAFarmThatStartsLateAndNamesOneThatNeverComes) {
  std::ofstream(dir_ / "spec.yaml") << test::tiny_search_spec(10);
  const auto run_local = [&](const std::string& out, const std::string& retry_seconds) {
    return test::run({(test::bin_dir() / "ernctl").string(), "search", "run-local",
                      (dir_ / "spec.yaml").string(), "--devicefarm", farm_address_, "-o",
                      (dir_ / out).string(), "--farm-retry-seconds", retry_seconds});
  };
  const auto away = run_local("away", "2");
  EXPECT_NE(away.exit_code, 0);
  EXPECT_NE(away.output.find("device farm " + farm_address_ + " unreachable for 2 s"),
            std::string::npos)
      << away.output;

  SubprocessResult late;
  std::thread search([&] { late = run_local("late", "120"); });
  std::this_thread::sleep_for(5s);  // the farm starts 5 s after the search
  start_farm();
  search.join();
  EXPECT_EQ(late.exit_code, 0) << late.output;
  EXPECT_NE(late.output.find("waiting for the device farm"), std::string::npos) << late.output;
  EXPECT_TRUE(std::filesystem::exists(dir_ / "late" / "report.json"));
}

}  // namespace
}  // namespace ern
