// One search job on a gang of two real ern-worker processes (training.workers: 2): the
// coordinator leases it to both at once with ranks and a rendezvous, they train through c10d, and
// rank 0 completes it; when a member is killed, the gang's attempt ends and the job resumes from
// its checkpoint on the next full gang; when a member fails on its own, the job ends with that
// member's reason at once.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <nlohmann/json.hpp>

#include "ern/v1/search.grpc.pb.h"
#include "tests/search_jobs.h"
#include "tests/test_support.h"

namespace ern {
namespace {

using namespace std::chrono_literals;

std::string gang_spec(int search_steps) {
  auto spec = test::tiny_search_spec(search_steps, 10);
  const std::string plain = "training: {batch: 2, patch: 32}";
  spec.replace(spec.find(plain), plain.size(), "training: {batch: 2, patch: 32, workers: 2}");
  return spec;
}

class GangSchedulingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    farm_ = test::start_quick_devicefarm(dir_.path());
    coordinator_ = test::start_coordinator(dir_.path(), {"--heartbeat-ms", "300", "--lease-ms",
                                                         "3000", "--devicefarm", farm_->address()});
    token_ = test::admin_token(dir_ / "coordinator");
    search_ = v1::SearchService::NewStub(test::channel_with_token(coordinator_->address(), token_));
  }

  std::unique_ptr<test::ServerProcess> start_worker(
      const std::string& name, std::vector<std::string> extra = {},
      const std::string& gang_timeout_seconds = "10") {
    extra.insert(extra.end(),
                 {"--gang-timeout-seconds", gang_timeout_seconds, "--metrics-listen", ""});
    return test::start_test_worker(dir_.path(), coordinator_->address(), farm_->address(), name,
                                   extra);
  }

  std::string submit(const std::string& spec) {
    return test::submit_search_job(*search_, spec).id();
  }

  v1::Job wait_for(const std::string& id, const std::function<bool(const v1::Job&)>& done,
                   std::chrono::seconds timeout) {
    return test::wait_for_job(*search_, id, done, timeout);
  }

  static bool ended(const v1::Job& job) {
    return job.state() == v1::SUCCEEDED || job.state() == v1::FAILED;
  }

  test::TempDir dir_;
  std::unique_ptr<test::ServerProcess> farm_, coordinator_;
  std::string token_;
  std::unique_ptr<v1::SearchService::Stub> search_;
};

TEST_F(GangSchedulingTest, TwoWorkersFinishOneJobTogether) {
  const auto id = submit(gang_spec(30));
  auto alone = start_worker("w1");
  // One worker cannot start a job that wants two: it stays queued, all or none.
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(test::get_job(*search_, id).state(), v1::QUEUED);

  auto other = start_worker("w2");
  const auto job = wait_for(id, ended, 300s);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.failure_reason() << "\n"
                                        << alone->log() << other->log();
  EXPECT_EQ(job.attempts(), 1);

  const auto shown = test::run({(test::bin_dir() / "ernctl").string(), "search", "get", id,
                                "--json", "--server", coordinator_->address(), "--token", token_});
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  const auto json = nlohmann::json::parse(shown.output);
  EXPECT_EQ(json["world_size"], 2);
  ASSERT_EQ(json["workers"].size(), 2u) << json.dump();
  std::set<std::string> names;
  for (const auto& worker : json["workers"]) {
    const std::string id_text = worker.get<std::string>();
    names.insert(id_text.substr(id_text.rfind('-') + 1));
  }
  EXPECT_EQ(names, (std::set<std::string>{"w1", "w2"}));
}

TEST_F(GangSchedulingTest, AKilledMemberEndsTheGangsAttemptAndTheJobResumesOnTheNextGang) {
  auto w1 = start_worker("w1");
  auto w2 = start_worker("w2");
  const auto id = submit(gang_spec(400));
  const auto running = wait_for(
      id, [](const v1::Job& job) { return job.stage() == "SEARCH" && job.checkpoint_step() >= 20; },
      300s);
  ASSERT_EQ(running.world_size(), 2);
  ASSERT_EQ(running.gang_workers_size(), 1);
  // Kill the member that is not rank 0.
  auto& member = running.gang_workers(0).find("w1") != std::string::npos ? w1 : w2;
  member->kill_hard();
  const auto requeued = wait_for(
      id, [](const v1::Job& job) { return job.state() != v1::RUNNING; }, 60s);
  EXPECT_EQ(requeued.state(), v1::QUEUED) << requeued.failure_reason();
  // The survivor asks for work again once the retry backoff (2 s) has passed, while the killed
  // member is still within its lease (3 s): it must not be seated with it.
  std::this_thread::sleep_for(2500ms);
  auto w3 = start_worker("w3");
  const auto job = wait_for(id, ended, 600s);
  ASSERT_EQ(job.state(), v1::SUCCEEDED) << job.failure_reason();
  EXPECT_EQ(job.attempts(), 2) << coordinator_->log();
  EXPECT_GE(job.resumed_from_step(), 20) << "resumed from its checkpoint";
}

TEST_F(GangSchedulingTest, AMembersOwnFailureEndsTheJobWithItsReasonAtOnce) {
  const auto id = submit(gang_spec(30));
  // w2's data roots leave out the spec's data, so w2 refuses the task (not retryable: the same
  // spec fails the same way again). w2 asks first and then only every 3 s; w1, asking at once,
  // becomes rank 0 and seats w2 as rank 1.
  const auto elsewhere = dir_ / "elsewhere";
  std::filesystem::create_directories(elsewhere);
  auto w2 = start_worker("w2", {"--poll-ms", "3000", "--data-roots", elsewhere.string()});
  auto w1 = start_worker("w1", {}, "120");
  const auto job = wait_for(id, ended, 120s);
  ASSERT_EQ(job.state(), v1::FAILED) << job.failure_reason();
  EXPECT_EQ(job.attempts(), 1) << job.failure_reason();
  const std::string& reason = job.failure_reason();
  EXPECT_EQ(reason.rfind("rank 1 (worker-", 0), 0u) << reason;
  EXPECT_NE(reason.find("-w2): spec data: outside the directories"), std::string::npos) << reason;
  // w1, waiting at the rendezvous for a rank 1 that never comes, hears at its next heartbeat that
  // the attempt ended and leaves then, not after its gang timeout (120 s).
  EXPECT_TRUE(w1->wait_for_log("stopped, the lease was lost", 30s)) << w1->log();
  EXPECT_EQ(w1->log().find("could not report the failure"), std::string::npos) << w1->log();
}

}  // namespace
}  // namespace ern
