#pragma once
// Denoise's Prometheus metrics. A model's series are looked up once, when it loads, so what a
// request records on the hot path is a few atomic operations and no lock.

#include <grpcpp/support/status.h>

#include <array>
#include <atomic>
#include <string>

#include "common/metrics.h"

namespace ern::serving {

class ModelServingSeries {
 public:
  explicit ModelServingSeries(const std::string& model);  // the `model` label's value
  metrics::Counter& requests(grpc::StatusCode code);      // ern_denoise_requests_total
  metrics::Histogram& request_duration;    // a whole call, seconds (successful calls)
  metrics::Histogram& queue_duration;      // an image's or tile's wait for its batch, seconds
  metrics::Histogram& inference_duration;  // a batch's forward pass, seconds
  metrics::Histogram& batch_size;          // images or tiles per forward pass

 private:
  const std::string model_;
  // One counter per status code, found on its first use and kept.
  std::array<std::atomic<metrics::Counter*>, 17> by_code_{};
};

struct ServingMetrics {
  metrics::Gauge& queue_depth;
  metrics::Gauge& queue_capacity;  // serving.max_queue, for saturation ratios
  metrics::Gauge& in_flight;
  metrics::Gauge& loaded_models;
  metrics::Counter& model_loads;
  metrics::Counter& model_load_failures;
  metrics::Histogram& model_load_duration;
  metrics::Counter& default_model_swaps;
  ModelServingSeries unresolved;  // calls that failed before a model was resolved: model="none"
};

ServingMetrics& serving_metrics();

}  // namespace ern::serving
