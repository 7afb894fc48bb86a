#pragma once
// The single-machine default: the coordinator process also runs a device farm and N workers.
// They talk to each other over loopback gRPC, through the same code paths as separate processes.

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/grpc_server.h"
#include "common/tls/transport_security.h"
#include "devicefarm/device_farm.h"
#include "devicefarm/latency_service.h"

namespace ern::server {

class EmbeddedDeviceFarm {
 public:
  // Serves `config` on a free loopback port; its table lives under `data_dir`.
  EmbeddedDeviceFarm(const std::filesystem::path& config_file,
                     const std::filesystem::path& data_dir);
  ~EmbeddedDeviceFarm();
  const std::string& address() const { return running_.address; }

 private:
  farm::DeviceFarm farm_;
  farm::LatencyServiceImpl service_;
  RunningServer running_;
};

class EmbeddedWorkers {
 public:
  // Starts `count` workers leasing from `coordinator` through an in-process channel (with `token`,
  // of role worker) and measuring on `devicefarm` (dialed with `devicefarm_tls`); their scratch
  // directories live under `data_dir`/workers/.
  EmbeddedWorkers(int count, grpc::Server& coordinator, const std::string& token,
                  const std::string& devicefarm, const tls::ClientTls& devicefarm_tls,
                  const std::filesystem::path& data_dir,
                  const std::vector<std::filesystem::path>& data_roots);
  // Stops them: each running task is left at its next step, its checkpoint kept by the coordinator.
  ~EmbeddedWorkers();

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace ern::server
