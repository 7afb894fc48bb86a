#include "server/coordinator.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "common/yaml_config.h"
#include "devicefarm/latency_client.h"

namespace ern::server {
namespace {

std::function<void(const std::string&)> device_checker(const std::string& devicefarm) {
  if (devicefarm.empty()) return nullptr;
  auto client = std::make_shared<farm::LatencyClient>(devicefarm);
  return [client](const std::string& device) { client->check_device(device); };
}

}  // namespace

CoordinatorConfig load_coordinator_config(const std::filesystem::path& yaml_file) {
  const auto root = load_yaml_file(yaml_file);
  CoordinatorConfig config;
  try {
    reject_unknown_fields(
        root, "",
        {"listen", "data", "heartbeat_interval_ms", "lease_duration_ms", "devicefarm", "serving"});
    read_yaml_field(root, "", "listen", config.listen);
    std::string data;
    read_yaml_field(root, "", "data", data);
    if (!data.empty()) config.data_dir = data;
    read_yaml_field(root, "", "heartbeat_interval_ms", config.timing.heartbeat_interval_ms);
    read_yaml_field(root, "", "lease_duration_ms", config.timing.lease_duration_ms);
    read_yaml_field(root, "", "devicefarm", config.devicefarm);
    config.serving = read_serving_options(root["serving"]);
    if (config.timing.heartbeat_interval_ms < 10) {
      throw std::invalid_argument("heartbeat_interval_ms: must be >= 10");
    }
    if (config.timing.lease_duration_ms < 2 * config.timing.heartbeat_interval_ms) {
      throw std::invalid_argument(
          "lease_duration_ms: must be at least twice heartbeat_interval_ms");
    }
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(yaml_file.string() + ": " + error.what());
  }
  return config;
}

Coordinator::Coordinator(CoordinatorConfig config)
    : config_(std::move(config)),
      store_(config_.data_dir / "coordinator.db"),
      artifacts_(config_.data_dir / "artifacts"),
      search_(store_, device_checker(config_.devicefarm)),
      models_(store_, artifacts_),
      workers_(store_, artifacts_, config_.timing),
      denoise_(store_, artifacts_, config_.serving) {}

Coordinator::~Coordinator() {
  stopping_ = true;
  if (sweeper_.joinable()) sweeper_.join();
}

const std::string& Coordinator::start() {
  running_ = start_grpc_server(config_.listen, {&search_, &models_, &workers_, &denoise_},
                               "ern-coordinator",
                               // Artifact uploads need their chunks whatever Denoise allows.
                               std::max(config_.serving.max_message_bytes, kMaxMessageBytes));
  sweeper_ = std::thread([this] { sweep_leases(); });
  return running_.address;
}

void Coordinator::sweep_leases() {
  const auto period =
      std::chrono::milliseconds(std::max<int64_t>(10, config_.timing.heartbeat_interval_ms / 2));
  while (!stopping_) {
    try {
      const int expired = store_.expire_leases();
      if (expired > 0)
        spdlog::warn("{} lease(s) expired; their jobs went back to the queue", expired);
    } catch (const std::exception& error) {
      spdlog::error("lease sweep: {}", error.what());
    }
    std::this_thread::sleep_for(period);
  }
}

}  // namespace ern::server
