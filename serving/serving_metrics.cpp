#include "serving/serving_metrics.h"

#include "ern/v1/denoise.pb.h"

namespace ern::serving {
namespace {

metrics::Histogram& model_histogram(const char* name, const char* help, std::vector<double> bounds,
                                    const std::string& model) {
  return metrics::registry().histogram(name, help, {"model"}, std::move(bounds)).with({model});
}

// Status codes as gRPC spells them, e.g. RESOURCE_EXHAUSTED.
const char* code_name(grpc::StatusCode code) {
  static const char* const names[] = {"OK",
                                      "CANCELLED",
                                      "UNKNOWN",
                                      "INVALID_ARGUMENT",
                                      "DEADLINE_EXCEEDED",
                                      "NOT_FOUND",
                                      "ALREADY_EXISTS",
                                      "PERMISSION_DENIED",
                                      "RESOURCE_EXHAUSTED",
                                      "FAILED_PRECONDITION",
                                      "ABORTED",
                                      "OUT_OF_RANGE",
                                      "UNIMPLEMENTED",
                                      "INTERNAL",
                                      "UNAVAILABLE",
                                      "DATA_LOSS",
                                      "UNAUTHENTICATED"};
  const int index = static_cast<int>(code);
  return index >= 0 && index < 17 ? names[index] : "UNKNOWN";
}

}  // namespace

ModelServingSeries::ModelServingSeries(const std::string& model)
    : request_duration(model_histogram("ern_denoise_request_duration_seconds",
                                       "Denoise calls from arrival to answer, successful ones.",
                                       metrics::duration_buckets(), model)),
      queue_duration(model_histogram("ern_denoise_queue_duration_seconds",
                                     "Time an image or tile waited for its batch.",
                                     metrics::duration_buckets(), model)),
      inference_duration(model_histogram("ern_denoise_inference_duration_seconds",
                                         "Forward pass of one batch.", metrics::duration_buckets(),
                                         model)),
      batch_size(model_histogram("ern_denoise_batch_size", "Images or tiles per forward pass.",
                                 metrics::power_of_two_buckets(1024), model)),
      model_(model) {
  requests(grpc::StatusCode::OK);  // shown at 0 from the start, so rates exist at once
}

metrics::Counter& ModelServingSeries::requests(grpc::StatusCode code) {
  const size_t index = static_cast<size_t>(code) < by_code_.size() ? code : grpc::UNKNOWN;
  metrics::Counter* counter = by_code_[index].load(std::memory_order_acquire);
  if (!counter) {
    counter = &metrics::registry()
                   .counter("ern_denoise_requests_total", "Denoise calls by model and status code.",
                            {"model", "code"})
                   .with({model_, code_name(static_cast<grpc::StatusCode>(index))});
    by_code_[index].store(counter, std::memory_order_release);
  }
  return *counter;
}

ServingMetrics& serving_metrics() {
  auto& registry = metrics::registry();
  static ServingMetrics the_metrics{
      registry.gauge("ern_denoise_queue_depth", "Images and tiles waiting for a forward pass.")
          .with(),
      registry
          .gauge("ern_denoise_queue_capacity",
                 "Images and tiles the queue holds before it sheds load (serving.max_queue).")
          .with(),
      registry.gauge("ern_denoise_in_flight_requests", "Denoise calls in progress.").with(),
      registry.gauge("ern_denoise_loaded_models", "Models held in memory for Denoise.").with(),
      registry.counter("ern_denoise_model_loads_total", "Models loaded into the serving pool.")
          .with(),
      registry.counter("ern_denoise_model_load_failures_total", "Models that could not be loaded.")
          .with(),
      registry
          .histogram("ern_denoise_model_load_duration_seconds", "Loading and preparing a model.",
                     {}, metrics::duration_buckets())
          .with(),
      registry
          .counter("ern_denoise_default_model_swaps_total",
                   "Times Denoise began serving a new default model.")
          .with(),
      ModelServingSeries("none")};
  return the_metrics;
}

}  // namespace ern::serving
