#pragma once
// The coordinator's Prometheus metrics for search jobs and workers. Transitions, queue waits,
// stage durations and attempts are recorded as the job store logs a job's events; per-job gauges
// exist while the job runs; counts by state are read from the store at scrape time.

#include <cstdint>
#include <string>

#include "common/metrics.h"

namespace ern::server {

struct Progress;

struct SearchMetrics {
  metrics::Family<metrics::Counter>& transitions;       // {state}: jobs that entered the state
  metrics::Histogram& queue_wait;                       // QUEUED until a worker took it, seconds
  metrics::Family<metrics::Histogram>& stage_duration;  // {stage}
  metrics::Histogram& attempts;                         // per ended job
  metrics::Family<metrics::Gauge>& jobs;                // {state}
  metrics::Family<metrics::Gauge>& workers;             // {state}: live, busy, lost
  metrics::Counter& leases_granted;
  metrics::Counter& leases_expired;
  metrics::Counter& heartbeats;
  metrics::Family<metrics::Gauge>& job_step;                // {job_id}, while RUNNING
  metrics::Family<metrics::Gauge>& job_loss;                // {job_id}
  metrics::Family<metrics::Gauge>& job_expected_latency;    // {job_id}, seconds
  metrics::Family<metrics::Gauge>& job_normalized_entropy;  // {job_id}

  void record_progress(const std::string& job_id, const Progress& progress);
  void forget_job(const std::string& job_id);  // it stopped running
};

SearchMetrics& search_metrics();

}  // namespace ern::server
