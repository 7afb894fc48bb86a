#pragma once
// The device farm's Prometheus metrics, labelled by device.

#include "common/metrics.h"

namespace ern::farm {

struct FarmMetrics {
  metrics::Family<metrics::Counter>& measurements;            // {device, kind}: block, network
  metrics::Family<metrics::Histogram>& measurement_duration;  // {device, kind}, seconds
  metrics::Family<metrics::Counter>& cache_hits;              // {device}: answered from the table
  metrics::Family<metrics::Counter>& cache_misses;            // {device}: had to be measured
  metrics::Gauge& waiting;  // requests waiting for the host (one measurement at a time)
};

FarmMetrics& farm_metrics();

}  // namespace ern::farm
