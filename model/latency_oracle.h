#pragma once
// What the search asks of a device farm, without saying how it is reached (the gRPC client in
// devicefarm/ is the implementation the pipeline uses).

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/architecture.h"

namespace ern {

struct BlockQuery {
  BlockAlternative alternative;
  int channels;
  int height;
  int width;
};

struct NetworkLatency {
  double median_ms = 0.0;
  double p10_ms = 0.0;
  double p90_ms = 0.0;
  int64_t peak_memory_bytes = 0;
};

// The device cannot run whole networks (a lookup-table device: per-block measurements only).
struct NetworkLatencyUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The farm could not be reached or did not answer in time: worth trying again later.
struct LatencyOracleUnavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class LatencyOracle {
 public:
  virtual ~LatencyOracle() = default;
  // Median latency (ms) of each query on `device`, in order.
  virtual std::vector<double> block_latencies_ms(const std::string& device,
                                                 const std::vector<BlockQuery>& queries) = 0;
  // Throws NetworkLatencyUnavailable when the device has no whole-network measurements.
  virtual NetworkLatency network_latency(const std::string& device,
                                         const NafnetArchitecture& architecture, int height,
                                         int width) = 0;
  // Throws std::invalid_argument when the farm has no such device.
  virtual void check_device(const std::string& device) = 0;
};

}  // namespace ern
