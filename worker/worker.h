#pragma once
// ern-worker's loop: register with the coordinator, heartbeat (keeping the current lease alive and
// learning of cancellation), lease tasks one at a time and run them.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>

#include "common/tls/transport_security.h"
#include "worker/coordinator_client.h"
#include "worker/task_runner.h"

namespace ern::worker {

struct WorkerOptions {
  std::string coordinator = "localhost:50051";
  std::string token;   // bearer token of role worker (ern-worker --token-file)
  tls::ClientTls tls;  // how to dial the coordinator and the device farm (--ca, --cert, --key)
  // Set by a coordinator for its embedded workers: an in-process channel into itself, used
  // instead of dialing `coordinator`.
  std::shared_ptr<grpc::Channel> coordinator_channel;
  std::string devicefarm = "localhost:50052";
  std::string device = "cpu";
  int threads = 0;              // LibTorch threads for training; 0: one per core
  std::string name = "worker";  // also the `worker` label of its metrics
  std::filesystem::path data_dir = "data/worker";
  // Where a spec's data and init_model may point; empty: the working directory.
  std::vector<std::filesystem::path> data_roots;
  std::chrono::milliseconds poll_every{1000};      // AcquireTask when idle
  std::chrono::milliseconds progress_every{2000};  // ReportProgress while running
  std::chrono::seconds retry_budget{600};          // how long the coordinator may be away
  std::chrono::seconds farm_retry_budget{600};     // how long the device farm may be away
  std::chrono::seconds gang_timeout{120};          // how long gang members wait for each other
};

class Worker {
 public:
  explicit Worker(WorkerOptions options);
  // Runs until `stop` becomes true (a running task is abandoned at its next step; its last
  // checkpoint stays with the coordinator for the next worker).
  void run(const std::atomic<bool>& stop);
  // Registered with the coordinator (what /readyz reports).
  bool registered() const { return registered_; }

 private:
  void serve(const std::atomic<bool>& stop);  // register, then lease and run tasks
  void heartbeat_loop(const std::atomic<bool>& stop);

  WorkerOptions options_;
  CoordinatorClient coordinator_;
  std::string worker_id_;
  std::chrono::milliseconds heartbeat_every_{2000};
  std::mutex lease_mutex_;
  v1::Lease lease_;  // the task being run; empty job_id when idle
  std::atomic<bool> abandoned_{false};
  std::atomic<bool> registered_{false};
};

// Total memory of this host in bytes (reported at registration).
int64_t host_memory_bytes();

}  // namespace ern::worker
