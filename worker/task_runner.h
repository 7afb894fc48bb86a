#pragma once
// Runs one leased task: fetch the last checkpoint (if any), run the search pipeline, report
// progress, upload each checkpoint the pipeline saves, then upload the model and complete the
// task. Stops as soon as the lease is lost or the job cancelled (`abandoned`).

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>

#include "common/tls/transport_security.h"
#include "ern/v1/worker.pb.h"
#include "worker/coordinator_client.h"
#include "worker/data_roots.h"

namespace ern {
class TrainingGang;
}

namespace ern::worker {

struct TaskSettings {
  std::string devicefarm;           // HOST:PORT
  tls::ClientTls devicefarm_tls;    // how to dial it
  std::string devicefarm_token;     // the worker's token, which the farm checks too
  std::filesystem::path work_root;  // jobs/<job id>/ under it
  std::chrono::milliseconds progress_every{2000};
  int threads = 0;          // LibTorch threads for training; 0: one per core
  std::string worker_name;  // the metrics' `worker` label
  DataRoots data_roots;     // where a spec's data and init_model may point
  // How long the device farm may stay unreachable before the job fails (not an attempt's worth:
  // waiting for it costs none).
  std::chrono::seconds farm_retry_budget{600};
  // How long a gang's members wait for each other (to meet, and in each all-reduce).
  std::chrono::seconds gang_timeout{120};
};

enum class TaskOutcome { kCompleted, kFailed, kStopped };

class TaskRunner {
 public:
  TaskRunner(CoordinatorClient& coordinator, TaskSettings settings);

  // Returns when the task has ended on this worker (completed, failed, or abandoned).
  TaskOutcome run(const v1::AcquireTaskResponse& task, const std::atomic<bool>& abandoned);

 private:
  // Joins `gang` for a gang's task. The gang is run()'s so that a member's failure is reported
  // while it is still in the gang: the coordinator hears its reason before the other members see
  // its connections close and fail with reasons of their own.
  void execute(const v1::AcquireTaskResponse& task, const std::atomic<bool>& abandoned,
               const std::filesystem::path& directory, std::unique_ptr<TrainingGang>& gang);
  void report_failure(const v1::Lease& lease, const std::string& reason, bool retryable);

  CoordinatorClient& coordinator_;
  TaskSettings settings_;
};

}  // namespace ern::worker
