#pragma once
// The standard process_* metrics every Prometheus client exposes (CPU seconds, resident and
// virtual memory, open and maximum file descriptors, start time), read from /proc at scrape time.

#include <memory>

#include "common/metrics.h"

namespace ern::metrics {

// Registers them in `registry` once per process.
void expose_process_metrics(Registry& registry);

}  // namespace ern::metrics
