#pragma once
// A worker's Prometheus metrics, labelled by worker name (embedded workers share their process's
// registry, so each keeps its own series).

#include "common/metrics.h"

namespace ern::worker {

struct WorkerMetrics {
  metrics::Family<metrics::Counter>& tasks;  // {worker, result}: completed, failed, stopped
  metrics::Family<metrics::Gauge>& busy;     // {worker}: 1 while running a task
  metrics::Family<metrics::Histogram>& task_duration;       // {worker}, seconds
  metrics::Family<metrics::Counter>& checkpoints_uploaded;  // {worker}
  metrics::Family<metrics::Counter>& heartbeat_failures;    // {worker}
};

WorkerMetrics& worker_metrics();

}  // namespace ern::worker
