#include "worker/task_runner.h"

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>

#include <regex>
#include <thread>

#include "common/dir_archive.h"
#include "devicefarm/latency_client.h"
#include "devicefarm/retrying_latency_oracle.h"
#include "inference/serving_engine.h"
#include "model/search_pipeline.h"
#include "model/search_spec.h"
#include "model/training_gang.h"
#include "worker/worker_metrics.h"

namespace ern::worker {
namespace {

namespace fs = std::filesystem;

// Thrown from the progress callback to stop the pipeline when the task is no longer ours.
struct TaskAbandoned : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string stage_at(const SearchSpec& spec, int64_t step) {
  if (step < spec.warmup_steps) return "WARMUP";
  if (step < spec.warmup_steps + spec.search_steps) return "SEARCH";
  return "FINETUNE";
}

v1::ReportProgressRequest progress_request(const v1::Lease& lease, const SearchProgress& p) {
  v1::ReportProgressRequest request;
  *request.mutable_lease() = lease;
  request.set_stage(p.stage);
  request.set_step(p.overall_step);
  request.set_total_steps(p.overall_total_steps);
  request.set_loss(p.loss);
  request.set_expected_latency_ms(p.expected_latency_ms);
  request.set_normalized_entropy(p.normalized_entropy);
  return request;
}

}  // namespace

TaskRunner::TaskRunner(CoordinatorClient& coordinator, TaskSettings settings)
    : coordinator_(coordinator), settings_(std::move(settings)) {}

TaskOutcome TaskRunner::run(const v1::AcquireTaskResponse& task,
                            const std::atomic<bool>& abandoned) {
  const auto& lease = task.lease();
  // The job id names a scratch directory that is later removed: it must be a job id, not a path.
  static const std::regex kJobId("job-[0-9]{1,18}");
  if (!std::regex_match(lease.job_id(), kJobId)) {
    spdlog::error("refusing a task whose job id is not a job id ({} bytes)", lease.job_id().size());
    return TaskOutcome::kFailed;
  }
  const fs::path directory = settings_.work_root / "jobs" / lease.job_id();
  spdlog::info("job {} attempt {}: starting{}", lease.job_id(), task.attempt(),
               task.checkpoint_step() > 0
                   ? " from checkpoint at step " + std::to_string(task.checkpoint_step())
                   : "");
  TaskOutcome outcome = TaskOutcome::kFailed;
  std::unique_ptr<TrainingGang> gang;
  try {
    execute(task, abandoned, directory, gang);
    outcome = TaskOutcome::kCompleted;
  } catch (const TaskAbandoned& error) {
    spdlog::warn("job {}: stopped, {}", lease.job_id(), error.what());
    outcome = TaskOutcome::kStopped;
  } catch (const LeaseLost& error) {
    spdlog::warn("job {}: stopped, lease lost ({})", lease.job_id(), error.what());
    outcome = TaskOutcome::kStopped;
  } catch (const farm::FarmUnreachable& error) {
    // The retry budget is spent: another attempt would wait for the same farm.
    report_failure(lease, error.what(), false);
  } catch (const std::invalid_argument& error) {
    // A bad spec or data set fails the same way on every worker: no retry.
    report_failure(lease, error.what(), false);
  } catch (const std::exception& error) {
    if (abandoned) {
      // The attempt had already ended (a gang member's failure, say): nothing left to report.
      spdlog::warn("job {}: stopped, the lease was lost or the job cancelled ({})", lease.job_id(),
                   error.what());
      outcome = TaskOutcome::kStopped;
    } else {
      report_failure(lease, error.what(), true);
    }
  }
  gang.reset();
  std::error_code ignored;
  fs::remove_all(directory, ignored);
  return outcome;
}

void TaskRunner::report_failure(const v1::Lease& lease, const std::string& reason, bool retryable) {
  spdlog::error("job {}: {}", lease.job_id(), reason);
  try {
    coordinator_.fail(lease, reason, retryable);
  } catch (const std::exception& error) {
    spdlog::error("job {}: could not report the failure: {}", lease.job_id(), error.what());
  }
}

void TaskRunner::execute(const v1::AcquireTaskResponse& task, const std::atomic<bool>& abandoned,
                         const fs::path& directory, std::unique_ptr<TrainingGang>& gang) {
  const auto& lease = task.lease();
  fs::remove_all(directory);
  const fs::path output = directory / "output";
  fs::create_directories(output);
  const fs::path archive = directory / "transfer.ernar";

  const SearchSpec spec = parse_search_spec(task.spec_yaml());
  settings_.data_roots.require_inside("spec data", spec.data);
  if (!spec.init_model.empty())
    settings_.data_roots.require_inside("spec init_model", spec.init_model);
  int64_t resumed_from = 0;
  if (task.checkpoint_step() > 0) {
    resumed_from = coordinator_.download_checkpoint(lease, archive);
    unpack_directory(archive, output);
    fs::remove(archive);
    spdlog::info("job {}: resuming from the checkpoint at step {}", lease.job_id(), resumed_from);
  }
  // A gang's members meet at rank 0 (blocking until all are there); rank 0 alone speaks for the
  // job: it reports, uploads and completes, as a single worker does.
  if (task.world_size() > 1) {
    spdlog::info("job {}: rank {} of {}, meeting at {}", lease.job_id(), task.rank(),
                 task.world_size(), task.rendezvous());
    gang = std::make_unique<TrainingGang>(
        gang_seat(task.rank(), task.world_size(), task.rendezvous()), torch::kCPU,
        settings_.gang_timeout, [&abandoned] { return abandoned.load(); });
  }
  const bool leader = task.rank() == 0;
  // The first report says where this attempt starts.
  SearchProgress start;
  start.stage = stage_at(spec, resumed_from);
  start.overall_step = resumed_from;
  start.overall_total_steps = pipeline_total_steps(spec);
  if (leader) coordinator_.report_progress(progress_request(lease, start));

  auto last_report = std::chrono::steady_clock::now();
  std::string last_stage = start.stage;
  SearchProgress latest = start;
  const auto on_progress = [&](const SearchProgress& progress) {
    if (abandoned) throw TaskAbandoned("the lease was lost or the job cancelled");
    if (!leader) return;
    latest = progress;
    const auto now = std::chrono::steady_clock::now();
    if (progress.checkpoint_saved) {
      pack_directory(output, archive);
      try {
        coordinator_.upload_checkpoint(lease, progress.overall_step, archive);
        worker_metrics().checkpoints_uploaded.with({settings_.worker_name}).inc();
      } catch (const CoordinatorUnavailable& error) {
        // Keep training; the next checkpoint will be offered again.
        spdlog::warn("job {}: checkpoint at step {} not uploaded: {}", lease.job_id(),
                     progress.overall_step, error.what());
      }
    }
    if (progress.stage != last_stage || now - last_report >= settings_.progress_every) {
      try {
        coordinator_.report_progress(progress_request(lease, progress));
        last_report = now;
        last_stage = progress.stage;
      } catch (const CoordinatorUnavailable&) {
        // Reported again at the next interval.
      }
    }
  };

  // Set at the start of every task: an embedded device farm sets its own count when it measures
  // (LibTorch's count is partly process-wide), which must not leave training on one core.
  at::set_num_threads(settings_.threads > 0
                          ? settings_.threads
                          : static_cast<int>(std::thread::hardware_concurrency()));
  // While the farm is away the job shows that it waits (and the heartbeats keep the lease).
  bool waiting_shown = false;
  const auto on_farm_wait = [&](bool waiting) {
    if (abandoned) throw TaskAbandoned("the lease was lost or the job cancelled");
    if (waiting == waiting_shown || !leader) return;
    auto request = progress_request(lease, latest);
    if (waiting) request.set_waiting_for("device farm");
    try {
      coordinator_.report_progress(request);
      waiting_shown = waiting;
    } catch (const CoordinatorUnavailable&) {
      // Shown at the next call.
    }
  };
  farm::LatencyClient client(settings_.devicefarm, settings_.devicefarm_tls,
                             settings_.devicefarm_token);
  farm::RetryingLatencyOracle farm(client, settings_.devicefarm, settings_.farm_retry_budget,
                                   on_farm_wait);
  const auto report = run_search_pipeline(spec, farm, output, on_progress, gang.get(),
                                          inference::evaluate_model_dir);
  if (abandoned) throw TaskAbandoned("the lease was lost or the job cancelled");
  if (!leader) {
    // Trained: the member stays in the gang (its lease alive) until rank 0 has finished the job.
    spdlog::info("job {}: rank {} trained; rank 0 evaluates and exports", lease.job_id(),
                 task.rank());
    while (!abandoned) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return;
  }

  pack_directory(output, archive, [](const fs::path& relative) {
    return *relative.begin() != "work";  // the search's own checkpoints stay out of the model
  });
  const std::string sha = coordinator_.upload_model(lease, archive);
  coordinator_.complete(lease, sha);
  spdlog::info("job {}: done, {:.2f}x faster on {} (model {})", lease.job_id(),
               report.value("latency_speedup", 0.0), spec.device, sha.substr(0, 12));
}

}  // namespace ern::worker
