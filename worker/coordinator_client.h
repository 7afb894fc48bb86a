#pragma once
// The worker's side of ern.v1.WorkerService. Calls that must not be lost (register, acquire,
// upload, complete) retry with exponential backoff while the coordinator is unreachable; a
// rejected fencing token throws LeaseLost.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "ern/v1/worker.grpc.pb.h"

namespace ern::worker {

// The lease is no longer ours (expired, taken over, or the job was cancelled).
struct LeaseLost : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The coordinator stayed unreachable for the whole retry budget.
struct CoordinatorUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class CoordinatorClient {
 public:
  // `channel` carries a bearer token of role worker; `address` names the coordinator in messages.
  CoordinatorClient(std::shared_ptr<grpc::Channel> channel, const std::string& address,
                    std::chrono::seconds retry_budget);

  v1::RegisterWorkerResponse register_worker(const v1::RegisterWorkerRequest& request);
  // One attempt each: the heartbeat loop and progress reports simply try again next time.
  v1::HeartbeatResponse heartbeat(const v1::HeartbeatRequest& request);
  v1::LeaseStatus report_progress(const v1::ReportProgressRequest& request);

  v1::AcquireTaskResponse acquire(const std::string& worker_id);
  // Streams a directory archive; returns its sha256 as the coordinator computed it.
  // Checkpoints are tried once (CoordinatorUnavailable when unreachable), models for the budget.
  std::string upload_checkpoint(const v1::Lease& lease, int64_t step,
                                const std::filesystem::path& archive);
  std::string upload_model(const v1::Lease& lease, const std::filesystem::path& archive);
  // Writes the job's last checkpoint archive to `archive`; returns its step.
  int64_t download_checkpoint(const v1::Lease& lease, const std::filesystem::path& archive);
  void complete(const v1::Lease& lease, const std::string& model_sha256);
  void fail(const v1::Lease& lease, const std::string& reason, bool retryable);

  const std::string& address() const { return address_; }
  // Retries end (CoordinatorUnavailable) as soon as `stop` is true: a worker told to stop while
  // the coordinator is away stops at once instead of waiting out the retry budget.
  void give_up_when(const std::atomic<bool>& stop) { stop_ = &stop; }

 private:
  template <typename Call>
  void with_retries(std::chrono::seconds budget, Call&& call);
  enum class Artifact { kCheckpoint, kModel };
  std::string upload(Artifact kind, const v1::Lease& lease, int64_t step,
                     const std::filesystem::path& archive);

  std::string address_;
  std::chrono::seconds retry_budget_;
  const std::atomic<bool>* stop_ = nullptr;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
};

}  // namespace ern::worker
