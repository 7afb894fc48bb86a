// The trust boundary of a real coordinator on loopback, over TLS: every RPC of every ERN service it
// hosts (found through the descriptors, so a new RPC cannot slip past) against every role, team
// scoping, workers bound to their token, revocation and expiry, the audit log, and ernctl's token
// commands.

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <map>
#include <set>
#include <thread>

#include <google/protobuf/descriptor.h>

#include "ern/v1/access.grpc.pb.h"
#include "ern/v1/denoise.grpc.pb.h"
#include "ern/v1/models.grpc.pb.h"
#include "ern/v1/search.grpc.pb.h"
#include "ern/v1/worker.grpc.pb.h"
#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;
using grpc::StatusCode;
using namespace std::chrono_literals;

// Who may call what, as the issue and the README state it (independent of the server's table).
const std::map<std::string, std::set<std::string>> kAllowedRoles = {
    {"SearchService/SubmitSearchJob", {"admin", "member"}},
    {"SearchService/GetJob", {"admin", "operator", "member", "viewer"}},
    {"SearchService/ListJobs", {"admin", "operator", "member", "viewer"}},
    {"SearchService/CancelJob", {"admin", "operator", "member"}},
    {"SearchService/WatchJob", {"admin", "operator", "member", "viewer"}},
    {"ModelService/ListModels", {"admin", "operator", "member", "viewer"}},
    {"ModelService/GetModel", {"admin", "operator", "member", "viewer"}},
    {"ModelService/SetDefaultModel", {"admin", "operator"}},
    {"ModelService/ImportModel", {"admin", "operator", "member"}},
    {"ModelService/DownloadModel", {"admin", "operator", "serve"}},
    {"ModelService/WatchModels", {"admin", "operator", "serve"}},
    {"DenoiseService/Denoise", {"admin", "operator", "member", "app"}},
    {"DenoiseService/DenoiseStream", {"admin", "operator", "member", "app"}},
    {"AccessService/CreateToken", {"admin"}},
    {"AccessService/ListTokens", {"admin"}},
    {"AccessService/RevokeToken", {"admin"}},
    {"AccessService/ListAuditEvents", {"admin", "operator"}},
    {"AccessService/VerifyToken", {"admin", "worker", "serve"}},
    {"WorkerService/RegisterWorker", {"admin", "worker"}},
    {"WorkerService/Heartbeat", {"admin", "worker"}},
    {"WorkerService/AcquireTask", {"admin", "worker"}},
    {"WorkerService/ReportProgress", {"admin", "worker"}},
    {"WorkerService/UploadCheckpoint", {"admin", "worker"}},
    {"WorkerService/DownloadCheckpoint", {"admin", "worker"}},
    {"WorkerService/UploadModel", {"admin", "worker"}},
    {"WorkerService/CompleteTask", {"admin", "worker"}},
    {"WorkerService/FailTask", {"admin", "worker"}},
};

class AccessTest : public ::testing::Test {
 protected:
  // Over TLS with certificates the test makes, as a deployment runs it.
  void SetUp() override {
    pki_ = test::make_test_pki(dir_ / "pki");
    start_coordinator();
    setenv("ERN_CA", pki_.ca.string().c_str(), 1);  // for ernctl
    admin_ = test::admin_token(dir_ / "coordinator");
    for (const std::string role : {"operator", "member", "viewer", "app", "worker", "serve"}) {
      const bool all_teams = role == "operator" || role == "worker" || role == "serve";
      tokens_[role] = create_token(all_teams ? "" : "vision", role);
    }
    tokens_["admin"] = admin_;
  }

  std::string create_token(const std::string& team, const std::string& role,
                           std::vector<std::string> models = {}, int64_t ttl_seconds = 0) {
    v1::CreateTokenRequest request;
    request.set_team(team);
    request.set_role(role);
    request.set_ttl_seconds(ttl_seconds);
    for (const auto& model : models) request.add_models(model);
    v1::CreateTokenResponse response;
    grpc::ClientContext context;
    const auto status = access(admin_)->CreateToken(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    token_ids_[response.secret()] = response.token().id();
    return response.secret();
  }

  void start_coordinator() {
    coordinator_ = test::start_coordinator(dir_.path(), {"--tls-cert", pki_.server_cert.string(),
                                                         "--tls-key", pki_.server_key.string()});
  }

  std::shared_ptr<grpc::Channel> channel(const std::string& token) {
    return test::channel_with_token(coordinator_->address(), token, pki_.client());
  }

  std::unique_ptr<v1::AccessService::Stub> access(const std::string& token) {
    return v1::AccessService::NewStub(channel(token));
  }
  std::unique_ptr<v1::SearchService::Stub> search(const std::string& token) {
    return v1::SearchService::NewStub(channel(token));
  }
  std::unique_ptr<v1::WorkerService::Stub> workers(const std::string& token) {
    return v1::WorkerService::NewStub(channel(token));
  }

  // Any method ("/package.Service/Method"), whatever its streaming kind, with one empty request
  // message.
  // Streams that go on until cancelled (WatchModels) end at `deadline`: DEADLINE_EXCEEDED, allowed.
  grpc::Status call_generic(const std::string& path, const std::string& token,
                            std::chrono::seconds deadline = 20s) {
    grpc::GenericStub stub(channel(token));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    grpc::CompletionQueue queue;
    auto call = stub.PrepareCall(&context, path, &queue);
    void* tag = nullptr;
    bool ok = false;
    call->StartCall(reinterpret_cast<void*>(1));
    queue.Next(&tag, &ok);
    grpc::ByteBuffer empty;
    grpc::Slice nothing("", 0);
    empty = grpc::ByteBuffer(&nothing, 1);
    call->Write(empty, reinterpret_cast<void*>(2));
    queue.Next(&tag, &ok);
    call->WritesDone(reinterpret_cast<void*>(3));
    queue.Next(&tag, &ok);
    grpc::ByteBuffer reply;
    while (true) {
      call->Read(&reply, reinterpret_cast<void*>(4));
      queue.Next(&tag, &ok);
      if (!ok) break;
    }
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(5));
    queue.Next(&tag, &ok);
    queue.Shutdown();
    while (queue.Next(&tag, &ok)) {
    }
    return status;
  }

  v1::Job submit_as(const std::string& token, const std::string& team, grpc::Status* status) {
    v1::SubmitSearchJobRequest request;
    request.set_spec_yaml(test::tiny_search_spec(20));
    request.set_team(team);
    v1::Job job;
    grpc::ClientContext context;
    *status = search(token)->SubmitSearchJob(&context, request, &job);
    return job;
  }

  test::TempDir dir_;
  test::TestPki pki_;
  std::unique_ptr<test::ServerProcess> coordinator_;
  std::string admin_;
  std::map<std::string, std::string> tokens_;     // role → token
  std::map<std::string, std::string> token_ids_;  // token → id
};

TEST_F(AccessTest, FirstStartWritesAnAdminTokenReadableOnlyByItsOwnerAndNeverLogsIt) {
  struct stat info {};
  ASSERT_EQ(stat((dir_ / "coordinator" / "admin.token").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(coordinator_->log().find(admin_), std::string::npos);
  EXPECT_NE(coordinator_->log().find("admin.token"), std::string::npos) << "the path is logged";
  // A restart keeps the token (it is not rewritten).
  coordinator_->stop();
  start_coordinator();
  EXPECT_EQ(test::admin_token(dir_ / "coordinator"), admin_);
  v1::ListTokensResponse listed;
  grpc::ClientContext context;
  ASSERT_TRUE(access(admin_)->ListTokens(&context, {}, &listed).ok());
  EXPECT_EQ(listed.tokens_size(), 7);  // the admin's and one per other role
}

TEST_F(AccessTest, EveryRpcChecksTheTokenAndTheRole) {
  // Each service through a message of its file (which also links that file's descriptors in).
  const std::map<std::string, const google::protobuf::FileDescriptor*> services = {
      {"SearchService", v1::Job::descriptor()->file()},
      {"ModelService", v1::Model::descriptor()->file()},
      {"DenoiseService", v1::DenoiseRequest::descriptor()->file()},
      {"WorkerService", v1::Lease::descriptor()->file()},
      {"AccessService", v1::Token::descriptor()->file()},
  };
  int methods = 0;
  for (const auto& [service, file] : services) {
    const auto* descriptor = file->FindServiceByName(service);
    ASSERT_NE(descriptor, nullptr) << service;
    for (int i = 0; i < descriptor->method_count(); ++i) {
      const std::string method = service + "/" + descriptor->method(i)->name();
      const std::string path = "/ern.v1." + method;
      ++methods;
      const auto expected = kAllowedRoles.find(method);
      ASSERT_NE(expected, kAllowedRoles.end()) << method << " has no expected roles in this test";
      EXPECT_EQ(call_generic(path, "").error_code(), StatusCode::UNAUTHENTICATED) << method;
      EXPECT_EQ(call_generic(path, "ern_not-a-token").error_code(), StatusCode::UNAUTHENTICATED)
          << method;
      for (const auto& [role, token] : tokens_) {
        const auto status =
            call_generic(path, token, method == "ModelService/WatchModels" ? 2s : 20s);
        if (expected->second.count(role) > 0) {
          EXPECT_NE(status.error_code(), StatusCode::UNAUTHENTICATED) << method << " as " << role;
          EXPECT_NE(status.error_code(), StatusCode::PERMISSION_DENIED)
              << method << " as " << role << ": " << status.error_message();
        } else {
          EXPECT_EQ(status.error_code(), StatusCode::PERMISSION_DENIED)
              << method << " as " << role << ": " << status.error_message();
        }
      }
    }
  }
  EXPECT_EQ(methods, static_cast<int>(kAllowedRoles.size()));
  // Health checking stays open (an empty HealthCheckRequest asks for the whole server).
  EXPECT_TRUE(call_generic("/grpc.health.v1.Health/Check", "").ok());
}

TEST_F(AccessTest, TeamsSeeOnlyTheirOwnJobs) {
  const auto other_team = create_token("audio", "member");
  grpc::Status status;
  const auto job = submit_as(tokens_["member"], "", &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(job.team(), "vision") << "a member submits for its own team";
  submit_as(other_team, "vision", &status);
  EXPECT_EQ(status.error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_NE(status.error_message().find("team"), std::string::npos) << status.error_message();

  // The other team gets exactly what a job that does not exist gets.
  v1::GetJobRequest get;
  get.set_id(job.id());
  v1::Job seen;
  grpc::ClientContext get_context;
  status = search(other_team)->GetJob(&get_context, get, &seen);
  EXPECT_EQ(status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "id: no job " + job.id());
  v1::CancelJobRequest cancel;
  cancel.set_id(job.id());
  grpc::ClientContext cancel_context;
  EXPECT_EQ(search(other_team)->CancelJob(&cancel_context, cancel, &seen).error_code(),
            StatusCode::NOT_FOUND);
  v1::ListJobsResponse listed;
  grpc::ClientContext list_context;
  ASSERT_TRUE(search(other_team)->ListJobs(&list_context, {}, &listed).ok());
  EXPECT_EQ(listed.jobs_size(), 0);
  // The viewer of the team reads it; the operator cancels it.
  grpc::ClientContext viewer_context;
  EXPECT_TRUE(search(tokens_["viewer"])->GetJob(&viewer_context, get, &seen).ok());
  grpc::ClientContext operator_context;
  EXPECT_TRUE(search(tokens_["operator"])->CancelJob(&operator_context, cancel, &seen).ok());
  EXPECT_EQ(seen.state(), v1::CANCELLED);
}

TEST_F(AccessTest, WorkersAreBoundToTheirTokenAndLeasesCannotBeGuessed) {
  grpc::Status status;
  const auto job = submit_as(tokens_["member"], "", &status);
  ASSERT_TRUE(status.ok());
  v1::RegisterWorkerRequest registration;
  registration.set_name("w1");
  registration.set_device("cpu");
  v1::RegisterWorkerResponse registered;
  grpc::ClientContext register_context;
  ASSERT_TRUE(workers(tokens_["worker"])
                  ->RegisterWorker(&register_context, registration, &registered)
                  .ok());

  // Another worker token cannot act for it, even knowing its id.
  const auto intruder = create_token("", "worker");
  v1::AcquireTaskRequest acquire;
  acquire.set_worker_id(registered.worker_id());
  v1::AcquireTaskResponse stolen;
  grpc::ClientContext steal_context;
  EXPECT_EQ(workers(intruder)->AcquireTask(&steal_context, acquire, &stolen).error_code(),
            StatusCode::NOT_FOUND);

  v1::AcquireTaskResponse leased;
  grpc::ClientContext acquire_context;
  ASSERT_TRUE(workers(tokens_["worker"])->AcquireTask(&acquire_context, acquire, &leased).ok());
  ASSERT_TRUE(leased.assigned());
  EXPECT_EQ(leased.lease().job_id(), job.id());
  EXPECT_GE(leased.lease().fencing_token().size(), 32u);

  // The intruder knows the job but not the lease: it can neither extend nor fail it.
  v1::FailTaskRequest fail;
  *fail.mutable_lease() = leased.lease();
  fail.set_reason("sabotage");
  v1::LeaseStatus lease_status;
  grpc::ClientContext fail_context;
  EXPECT_EQ(workers(intruder)->FailTask(&fail_context, fail, &lease_status).error_code(),
            StatusCode::FAILED_PRECONDITION);
  v1::HeartbeatRequest heartbeat;
  heartbeat.set_worker_id(registered.worker_id());
  *heartbeat.mutable_lease() = leased.lease();
  v1::HeartbeatResponse beat;
  grpc::ClientContext beat_context;
  EXPECT_EQ(workers(intruder)->Heartbeat(&beat_context, heartbeat, &beat).error_code(),
            StatusCode::NOT_FOUND);
  // Its own worker, with a guessed fencing token, gets nothing either.
  v1::RegisterWorkerResponse intruder_worker;
  grpc::ClientContext intruder_register;
  ASSERT_TRUE(
      workers(intruder)->RegisterWorker(&intruder_register, registration, &intruder_worker).ok());
  heartbeat.set_worker_id(intruder_worker.worker_id());
  heartbeat.mutable_lease()->set_fencing_token("lease-00000000000000000000000000000001");
  grpc::ClientContext guess_context;
  ASSERT_TRUE(workers(intruder)->Heartbeat(&guess_context, heartbeat, &beat).ok());
  EXPECT_FALSE(beat.lease().valid());

  v1::GetJobRequest get;
  get.set_id(job.id());
  v1::Job seen;
  grpc::ClientContext get_context;
  ASSERT_TRUE(search(admin_)->GetJob(&get_context, get, &seen).ok());
  EXPECT_EQ(seen.state(), v1::RUNNING) << "the job was not failed by another worker";
}

TEST_F(AccessTest, RevokedAndExpiredTokensStopAtOnce) {
  const auto member = create_token("vision", "member");
  const auto brief = create_token("vision", "viewer", {}, 1);
  v1::ListJobsResponse listed;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(search(member)->ListJobs(&context, {}, &listed).ok());
  }
  v1::RevokeTokenRequest revoke;
  revoke.set_id(token_ids_[member]);
  v1::Token revoked;
  grpc::ClientContext revoke_context;
  ASSERT_TRUE(access(admin_)->RevokeToken(&revoke_context, revoke, &revoked).ok());
  EXPECT_GT(revoked.revoked_unix_ms(), 0);
  {
    grpc::ClientContext context;
    EXPECT_EQ(search(member)->ListJobs(&context, {}, &listed).error_code(),
              StatusCode::UNAUTHENTICATED);
  }
  std::this_thread::sleep_for(1100ms);
  grpc::ClientContext context;
  EXPECT_EQ(search(brief)->ListJobs(&context, {}, &listed).error_code(),
            StatusCode::UNAUTHENTICATED);
}

TEST_F(AccessTest, MutatingCallsAreAuditedWithWhoWhatAndResult) {
  grpc::Status status;
  const auto job = submit_as(tokens_["member"], "", &status);
  ASSERT_TRUE(status.ok());
  submit_as(tokens_["member"], "audio", &status);  // refused: audited too
  v1::ListAuditEventsRequest request;
  v1::ListAuditEventsResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(access(tokens_["operator"])->ListAuditEvents(&context, request, &response).ok());
  bool submitted = false;
  bool refused = false;
  for (const auto& event : response.events()) {
    if (event.method() != "SubmitSearchJob") continue;
    EXPECT_EQ(event.token_id(), token_ids_[tokens_["member"]]);
    EXPECT_EQ(event.role(), "member");
    EXPECT_EQ(event.team(), "vision");
    if (event.code() == "OK" && event.target() == job.id()) submitted = true;
    if (event.code() == "PERMISSION_DENIED") refused = true;
  }
  EXPECT_TRUE(submitted);
  EXPECT_TRUE(refused);
  grpc::ClientContext member_context;
  EXPECT_EQ(
      access(tokens_["member"])->ListAuditEvents(&member_context, request, &response).error_code(),
      StatusCode::PERMISSION_DENIED);
}

TEST_F(AccessTest, ErnctlIssuesListsAndRevokesTokens) {
  const auto ernctl = (test::bin_dir() / "ernctl").string();
  const auto server = coordinator_->address();
  const auto created =
      test::run({ernctl, "tokens", "create", "--team", "vision", "--role", "app", "--name", "web",
                 "--expires", "30d", "--server", server, "--token", admin_});
  ASSERT_EQ(created.exit_code, 0) << created.output;
  std::string secret = created.output.substr(created.output.rfind("ern_"));
  secret.erase(secret.find_last_not_of("\n") + 1);
  EXPECT_EQ(secret.size(), 52u) << created.output;

  setenv("ERN_TOKEN", admin_.c_str(), 1);
  const auto listed = test::run({ernctl, "tokens", "list", "--server", server});
  unsetenv("ERN_TOKEN");
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  EXPECT_NE(listed.output.find("web"), std::string::npos) << listed.output;
  EXPECT_EQ(listed.output.find(secret), std::string::npos) << "no secrets in the list";
  EXPECT_EQ(listed.output.find(admin_), std::string::npos);

  const auto denied = test::run({ernctl, "tokens", "list", "--server", server, "--token", secret});
  EXPECT_EQ(denied.exit_code, 4);  // ernctl's exit code for permission
  EXPECT_NE(denied.output.find("PERMISSION_DENIED"), std::string::npos) << denied.output;
  const auto anonymous = test::run({ernctl, "search", "list", "--server", server});
  EXPECT_EQ(anonymous.exit_code, 4);
  EXPECT_NE(anonymous.output.find("UNAUTHENTICATED"), std::string::npos) << anonymous.output;
  const auto bad = test::run(
      {ernctl, "tokens", "create", "--role", "root", "--server", server, "--token", admin_});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("role: 'root'"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace ern
