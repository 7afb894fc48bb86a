#include "serving/serving_options.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "common/yaml_config.h"

namespace ern::serving {
namespace {

template <typename T>
void check_range(const char* field, T value, T low, T high) {
  if (value < low || value > high) {
    throw std::invalid_argument(std::string("serving.") + field + ": must be in " +
                                std::to_string(low) + ".." + std::to_string(high));
  }
}

template <typename Duration>
void read_duration(const YAML::Node& node, const std::string& prefix, const char* field,
                   Duration& value) {
  int64_t count = value.count();
  read_yaml_field(node, prefix, field, count);
  value = Duration(count);
}

}  // namespace

void ServingOptions::validate() const {
  check_range("max_message_bytes", max_message_bytes, 1 << 16, 2047 << 20);
  check_range<int64_t>("max_stream_bytes", max_stream_bytes, 1 << 16, int64_t{1} << 40);
  check_range<int64_t>("max_pixels", max_pixels, 1, int64_t{1} << 34);
  check_range("max_concurrent_requests", max_concurrent_requests, 1, 100000);
  // The largest image must fit the budget alone, or it could never be served.
  check_range<int64_t>("max_pixels_in_flight", max_pixels_in_flight, max_pixels, int64_t{1} << 36);
  check_range<int64_t>("pixel_budget_wait_ms", pixel_budget_wait.count(), 0, 600'000);
  check_range<int64_t>("stream_idle_timeout_ms", stream_idle_timeout.count(), 100, 3'600'000);
  check_range("max_queue", max_queue, 1, 1000000);
  // An image's tiles enter the queue a batch at a time: a queue shorter than a batch could never
  // take a large image.
  check_range("max_batch", max_batch, 1, std::min(1024, max_queue));
  check_range<int64_t>("max_queue_delay_us", max_queue_delay.count(), 0, 10'000'000);
  check_range("tile", tile, 32, 8192);
  check_range("overlap", overlap, 0, tile / 2 - 1);
  check_range("max_loaded_models", max_loaded_models, 1, 1000);
  check_range("threads", threads, 0, 1024);
}

ServingOptions read_serving_options(const YAML::Node& node) {
  ServingOptions options;
  if (!node) return options;
  const std::string prefix = "serving.";
  reject_unknown_fields(node, prefix,
                        {"max_message_bytes", "max_stream_bytes", "max_pixels",
                         "max_concurrent_requests", "max_pixels_in_flight", "pixel_budget_wait_ms",
                         "stream_idle_timeout_ms", "max_queue", "max_batch", "max_queue_delay_us",
                         "tile", "overlap", "max_loaded_models", "threads", "png_compression"});
  read_yaml_field(node, prefix, "max_message_bytes", options.max_message_bytes);
  read_yaml_field(node, prefix, "max_stream_bytes", options.max_stream_bytes);
  read_yaml_field(node, prefix, "max_pixels", options.max_pixels);
  read_yaml_field(node, prefix, "max_concurrent_requests", options.max_concurrent_requests);
  read_yaml_field(node, prefix, "max_pixels_in_flight", options.max_pixels_in_flight);
  read_duration(node, prefix, "pixel_budget_wait_ms", options.pixel_budget_wait);
  read_duration(node, prefix, "stream_idle_timeout_ms", options.stream_idle_timeout);
  read_yaml_field(node, prefix, "max_queue", options.max_queue);
  read_yaml_field(node, prefix, "max_batch", options.max_batch);
  read_duration(node, prefix, "max_queue_delay_us", options.max_queue_delay);
  read_yaml_field(node, prefix, "tile", options.tile);
  read_yaml_field(node, prefix, "overlap", options.overlap);
  read_yaml_field(node, prefix, "max_loaded_models", options.max_loaded_models);
  read_yaml_field(node, prefix, "threads", options.threads);
  if (node["png_compression"]) {
    std::string value;
    read_yaml_field(node, prefix, "png_compression", value);
    options.png_compression = parse_png_compression(value, prefix + "png_compression");
  }
  options.validate();
  return options;
}

}  // namespace ern::serving
