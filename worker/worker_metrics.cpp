#include "worker/worker_metrics.h"

namespace ern::worker {

WorkerMetrics& worker_metrics() {
  auto& registry = metrics::registry();
  static WorkerMetrics the_metrics{
      registry.counter("ern_worker_tasks_total",
                       "Tasks a worker ran, by how they ended (completed, failed, stopped: lease "
                       "lost, cancelled or shutting down).",
                       {"worker", "result"}),
      registry.gauge("ern_worker_busy", "1 while the worker runs a task.", {"worker"}),
      registry.histogram("ern_worker_task_duration_seconds", "One attempt at a task.", {"worker"},
                         {10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400}),
      registry.counter("ern_worker_checkpoints_uploaded_total",
                       "Checkpoints the coordinator acknowledged.", {"worker"}),
      registry.counter("ern_worker_heartbeat_failures_total",
                       "Heartbeats that did not reach the coordinator.", {"worker"})};
  return the_metrics;
}

}  // namespace ern::worker
