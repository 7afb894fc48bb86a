#include "devicefarm/farm_metrics.h"

namespace ern::farm {

FarmMetrics& farm_metrics() {
  auto& registry = metrics::registry();
  static FarmMetrics the_metrics{
      registry.counter("ern_devicefarm_measurements_total",
                       "Measurements made (a block spec or a whole network).", {"device", "kind"}),
      registry.histogram("ern_devicefarm_measurement_duration_seconds",
                         "Time one measurement took, warm-up and repeats included.",
                         {"device", "kind"}, metrics::duration_buckets()),
      registry.counter("ern_devicefarm_cache_hits_total",
                       "Block specs answered from the lookup table without measuring.", {"device"}),
      registry.counter("ern_devicefarm_cache_misses_total", "Block specs that had to be measured.",
                       {"device"}),
      registry
          .gauge("ern_devicefarm_waiting_requests",
                 "Requests waiting for the host while another measurement runs.")
          .with()};
  return the_metrics;
}

}  // namespace ern::farm
