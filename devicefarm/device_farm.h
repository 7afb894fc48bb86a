#pragma once
// The device farm's logic, independent of gRPC: device profiles, their backends, the persistent
// table, and the rule that measurements on the host run one at a time.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "common/tls/transport_security.h"
#include "devicefarm/backends.h"
#include "devicefarm/latency_store.h"

namespace ern::farm {

struct BlockResult {
  BlockSpec spec;
  LatencyStats stats;
  bool cached = false;
};

struct FarmConfig {
  std::string listen = "127.0.0.1:50052";
  tls::ServerTls tls;          // TLS (and mutual TLS) of the gRPC port; plaintext only on loopback
  std::string metrics_listen;  // HOST:PORT of /metrics, /healthz, /readyz; empty: none
  std::vector<DeviceProfile> devices;
  MeasurementPolicy policy;
  std::filesystem::path data_dir = "data/devicefarm";
};

// Reads a YAML config (listen, tls, metrics_listen, data, measurement, devices) (e.g.
// configs/devicefarm.yaml); table paths are relative to the config file. Errors name the key.
FarmConfig load_farm_config(const std::filesystem::path& yaml_file);

class DeviceFarm {
 public:
  explicit DeviceFarm(FarmConfig config);

  const std::vector<DeviceProfile>& devices() const { return config_.devices; }
  // Throws NotFoundError for an unknown device, std::invalid_argument for a bad spec.
  std::vector<BlockResult> profile_blocks(const std::string& device,
                                          const std::vector<BlockSpec>& specs);
  NetworkMeasurement profile_network(const std::string& device,
                                     const NafnetArchitecture& architecture, int height, int width);

 private:
  LatencyBackend& backend_of(const std::string& device);
  std::unique_lock<std::mutex> wait_for_host();  // counted as waiting meanwhile
  void record_measurement(const std::string& device, const char* kind,
                          std::chrono::steady_clock::time_point started);

  FarmConfig config_;
  std::map<std::string, std::unique_ptr<LatencyBackend>> backends_;
  LatencyStore store_;
  std::mutex host_;  // one measurement on the host at a time
};

}  // namespace ern::farm
