#pragma once
// Where latencies come from. `local-cpu` measures with LibTorch on the farm's own host at a fixed
// thread count (several profiles with different counts stand for several devices); `table` serves
// measurements taken elsewhere (a phone, say) from a CSV or JSON file.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "devicefarm/measurement.h"
#include "model/architecture.h"

namespace ern::farm {

// Errors the service maps to gRPC NOT_FOUND and FAILED_PRECONDITION.
struct NotFoundError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct PreconditionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct DeviceProfile {
  std::string id;
  std::string backend;  // "local-cpu" or "table"
  int threads = 1;
  std::string description;
  std::filesystem::path table;  // for "table"
};

struct NetworkMeasurement {
  LatencyStats stats;
  int64_t peak_memory_bytes = 0;
};

class LatencyBackend {
 public:
  virtual ~LatencyBackend() = default;
  virtual LatencyStats measure_block(const BlockSpec& spec) = 0;
  virtual NetworkMeasurement measure_network(const NafnetArchitecture& architecture, int height,
                                             int width) = 0;
  // Measurements on the farm's own host share its CPU: they must run one at a time, and are
  // worth keeping in the persistent table.
  virtual bool uses_host() const = 0;
};

class LocalCpuBackend : public LatencyBackend {
 public:
  LocalCpuBackend(int threads, MeasurementPolicy policy);
  LatencyStats measure_block(const BlockSpec& spec) override;
  NetworkMeasurement measure_network(const NafnetArchitecture& architecture, int height,
                                     int width) override;
  bool uses_host() const override { return true; }

 private:
  int threads_;
  MeasurementPolicy policy_;
};

// File format, CSV with a header line:
//   alternative,channels,height,width,median_ms,p10_ms,p90_ms,runs
// or JSON: {"blocks": [{"alternative": .., "channels": .., "height": .., "width": ..,
//                       "median_ms": .., "p10_ms": .., "p90_ms": .., "runs": ..}, ...]}
class TableBackend : public LatencyBackend {
 public:
  explicit TableBackend(const std::filesystem::path& file);
  LatencyStats measure_block(const BlockSpec& spec) override;
  NetworkMeasurement measure_network(const NafnetArchitecture& architecture, int height,
                                     int width) override;
  bool uses_host() const override { return false; }
  size_t size() const { return rows_.size(); }

 private:
  std::filesystem::path file_;
  std::map<std::string, LatencyStats> rows_;  // by BlockSpec::key()
};

std::unique_ptr<LatencyBackend> make_backend(const DeviceProfile& profile,
                                             const MeasurementPolicy& policy);

}  // namespace ern::farm
