#include "server/search_metrics.h"

#include "server/job_store.h"

namespace ern::server {

void SearchMetrics::record_progress(const std::string& job_id, const Progress& progress) {
  job_step.with({job_id}).set(static_cast<double>(progress.step));
  job_loss.with({job_id}).set(progress.loss);
  job_expected_latency.with({job_id}).set(progress.expected_latency_ms / 1000);
  job_normalized_entropy.with({job_id}).set(progress.normalized_entropy);
}

void SearchMetrics::forget_job(const std::string& job_id) {
  for (auto* family : {&job_step, &job_loss, &job_expected_latency, &job_normalized_entropy}) {
    family->remove({job_id});
  }
}

SearchMetrics& search_metrics() {
  auto& registry = metrics::registry();
  static SearchMetrics the_metrics{
      registry.counter("ern_search_job_transitions_total", "Search jobs that entered a state.",
                       {"state"}),
      registry
          .histogram("ern_search_job_queue_wait_seconds",
                     "Time a job waited QUEUED before a worker took it.", {},
                     {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600})
          .with(),
      registry.histogram("ern_search_stage_duration_seconds", "Time a job spent in a stage.",
                         {"stage"},
                         {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400}),
      registry
          .histogram("ern_search_job_attempts", "Attempts a job took, observed when it ended.", {},
                     {1, 2, 3, 5, 10})
          .with(),
      registry.gauge("ern_search_jobs", "Search jobs by state.", {"state"}),
      registry.gauge("ern_coordinator_workers",
                     "Registered workers: live (heartbeat within a lease), busy (live and holding "
                     "a job), lost.",
                     {"state"}),
      registry.counter("ern_coordinator_leases_granted_total", "Task leases given to workers.")
          .with(),
      registry
          .counter("ern_coordinator_leases_expired_total",
                   "Leases that expired without heartbeats (the task went back to the queue).")
          .with(),
      registry.counter("ern_coordinator_heartbeats_total", "Worker heartbeats received.").with(),
      registry.gauge("ern_search_job_step", "A running job's current step.", {"job_id"}),
      registry.gauge("ern_search_job_loss", "A running job's last reported loss.", {"job_id"}),
      registry.gauge("ern_search_job_expected_latency_seconds",
                     "A running job's expected latency E[lat] under the current choice.",
                     {"job_id"}),
      registry.gauge("ern_search_job_normalized_entropy",
                     "A running job's mean normalized entropy of its choices (0 = decided).",
                     {"job_id"})};
  return the_metrics;
}

}  // namespace ern::server
