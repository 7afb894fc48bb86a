#include "worker/worker.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <thread>

#include "common/auth/token_channel.h"
#include "worker/worker_metrics.h"

namespace ern::worker {

int64_t host_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kilobytes = 0;
  while (meminfo >> key >> kilobytes) {
    if (key == "MemTotal:") return kilobytes * 1024;
    meminfo.ignore(256, '\n');
  }
  return 0;
}

Worker::Worker(WorkerOptions options)
    : options_(std::move(options)),
      coordinator_(options_.coordinator_channel
                       ? options_.coordinator_channel
                       : auth::channel_with_token(options_.coordinator,
                                                  tls::channel_credentials(options_.tls),
                                                  grpc::ChannelArguments(), options_.token),
                   options_.coordinator, options_.retry_budget) {
  if (options_.device != "cpu") {
    throw std::invalid_argument("--device: '" + options_.device +
                                "' is not available; the search pipeline trains on cpu");
  }
}

void Worker::heartbeat_loop(const std::atomic<bool>& stop) {
  while (!stop) {
    v1::HeartbeatRequest request;
    request.set_worker_id(worker_id_);
    {
      std::lock_guard lock(lease_mutex_);
      if (!lease_.job_id().empty()) *request.mutable_lease() = lease_;
    }
    try {
      const auto response = coordinator_.heartbeat(request);
      if (request.has_lease() && !response.lease().valid()) {
        spdlog::warn("job {}: {}", request.lease().job_id(),
                     response.lease().cancelled() ? "cancelled" : "lease no longer ours");
        abandoned_ = true;
      }
    } catch (const std::exception& error) {
      worker_metrics().heartbeat_failures.with({options_.name}).inc();
      spdlog::warn("heartbeat: {}", error.what());
    }
    std::this_thread::sleep_for(heartbeat_every_);
  }
}

void Worker::run(const std::atomic<bool>& stop) {
  coordinator_.give_up_when(stop);
  try {
    serve(stop);
  } catch (const CoordinatorUnavailable& error) {
    if (!stop) throw;
    spdlog::info("stopped while the coordinator was unreachable ({})", error.what());
  }
}

void Worker::serve(const std::atomic<bool>& stop) {
  v1::RegisterWorkerRequest registration;
  registration.set_name(options_.name);
  registration.set_device(options_.device);
  registration.set_memory_bytes(host_memory_bytes());
  const auto registered = coordinator_.register_worker(registration);
  worker_id_ = registered.worker_id();
  registered_ = true;
  heartbeat_every_ = std::chrono::milliseconds(registered.heartbeat_interval_ms());
  spdlog::info("registered with {} as {} (heartbeat every {} ms)", coordinator_.address(),
               worker_id_, heartbeat_every_.count());

  std::atomic<bool> stop_heartbeats{false};
  std::thread heartbeats([&] { heartbeat_loop(stop_heartbeats); });
  TaskRunner runner(coordinator_, {options_.devicefarm, options_.tls, options_.token,
                                   options_.data_dir, options_.progress_every, options_.threads,
                                   options_.name, DataRoots(options_.data_roots),
                                   options_.farm_retry_budget, options_.gang_timeout});
  auto& metrics = worker_metrics();
  auto& busy = metrics.busy.with({options_.name});
  // Every series shown from the start (at 0), so dashboards and rates have them at once.
  for (const char* result : {"completed", "failed", "stopped"}) {
    metrics.tasks.with({options_.name, result});
  }
  metrics.task_duration.with({options_.name});
  metrics.checkpoints_uploaded.with({options_.name});
  metrics.heartbeat_failures.with({options_.name});
  // Stopping the worker abandons the running task at its next step.
  std::thread stop_watch([&] {
    while (!stop && !stop_heartbeats) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (stop) abandoned_ = true;
  });
  try {
    while (!stop) {
      const auto task = coordinator_.acquire(worker_id_);
      if (!task.assigned()) {
        std::this_thread::sleep_for(options_.poll_every);
        continue;
      }
      {
        std::lock_guard lock(lease_mutex_);
        lease_ = task.lease();
      }
      abandoned_ = stop.load();
      busy.set(1);
      const auto started = std::chrono::steady_clock::now();
      const TaskOutcome outcome = runner.run(task, abandoned_);
      busy.set(0);
      metrics.task_duration.with({options_.name})
          .observe(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      metrics.tasks
          .with({options_.name, outcome == TaskOutcome::kCompleted ? "completed"
                                : outcome == TaskOutcome::kFailed  ? "failed"
                                                                   : "stopped"})
          .inc();
      std::lock_guard lock(lease_mutex_);
      lease_.Clear();
    }
  } catch (...) {
    stop_heartbeats = true;
    stop_watch.join();
    heartbeats.join();
    throw;
  }
  stop_heartbeats = true;
  stop_watch.join();
  heartbeats.join();
}

}  // namespace ern::worker
