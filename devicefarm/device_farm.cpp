#include "devicefarm/device_farm.h"

#include <set>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "common/yaml_config.h"
#include "devicefarm/farm_metrics.h"
#include "devicefarm/host_fingerprint.h"

namespace ern::farm {

FarmConfig load_farm_config(const std::filesystem::path& yaml_file) {
  const std::string where = yaml_file.string();
  const YAML::Node root = load_yaml_file(yaml_file);
  reject_unknown_fields(root, where + ": ",
                        {"listen", "tls", "metrics_listen", "data", "measurement", "devices"});
  FarmConfig config;
  read_yaml_field(root, where + ": ", "listen", config.listen);
  read_yaml_field(root, where + ": ", "metrics_listen", config.metrics_listen);
  config.tls = tls::read_server_tls(root["tls"], where + ": tls.");
  std::string data_dir = config.data_dir.string();
  read_yaml_field(root, where + ": ", "data", data_dir);
  config.data_dir = data_dir;
  if (const auto measurement = root["measurement"]) {
    config.policy.warmup_runs = measurement["warmup_runs"].as<int>(config.policy.warmup_runs);
    config.policy.min_runs = measurement["min_runs"].as<int>(config.policy.min_runs);
    config.policy.max_runs = measurement["max_runs"].as<int>(config.policy.max_runs);
    config.policy.budget_seconds =
        measurement["budget_seconds"].as<double>(config.policy.budget_seconds);
  }
  const auto devices = root["devices"];
  if (!devices || !devices.IsSequence() || devices.size() == 0) {
    throw std::invalid_argument(where + ": devices: needs at least one device profile");
  }
  for (size_t i = 0; i < devices.size(); ++i) {
    const auto node = devices[i];
    const std::string field = where + ": devices[" + std::to_string(i) + "]";
    DeviceProfile profile;
    try {
      profile.id = node["id"].as<std::string>();
      profile.backend = node["backend"].as<std::string>();
      profile.threads = node["threads"].as<int>(1);
      profile.description = node["description"].as<std::string>("");
      if (node["table"]) profile.table = yaml_file.parent_path() / node["table"].as<std::string>();
    } catch (const YAML::Exception& error) {
      throw std::invalid_argument(field + ": needs id and backend (" + error.what() + ")");
    }
    config.devices.push_back(profile);
  }
  return config;
}

DeviceFarm::DeviceFarm(FarmConfig config)
    : config_(std::move(config)), store_(config_.data_dir / "latency.sqlite", host_fingerprint()) {
  if (const int stale = store_.count_from_other_hosts(); stale > 0) {
    spdlog::info(
        "latency table: {} rows were measured on another host than this one ({}); "
        "they are measured again here when asked for",
        stale, store_.host());
  }
  std::set<std::string> ids;
  for (const auto& device : config_.devices) {
    if (device.id.empty()) throw std::invalid_argument("devices: an id is empty");
    if (!ids.insert(device.id).second)
      throw std::invalid_argument("devices: duplicate id " + device.id);
    backends_[device.id] = make_backend(device, config_.policy);
    // Every device's series shown from the start (at 0).
    auto& metrics = farm_metrics();
    metrics.cache_hits.with({device.id});
    metrics.cache_misses.with({device.id});
    for (const char* kind : {"block", "network"}) {
      metrics.measurements.with({device.id, kind});
      metrics.measurement_duration.with({device.id, kind});
    }
  }
}

LatencyBackend& DeviceFarm::backend_of(const std::string& device) {
  auto found = backends_.find(device);
  if (found == backends_.end()) {
    std::string known;
    for (const auto& [id, backend] : backends_) known += (known.empty() ? "" : ", ") + id;
    throw NotFoundError("device_id: no device '" + device + "' in the farm (devices: " + known +
                        ")");
  }
  return *found->second;
}

std::vector<BlockResult> DeviceFarm::profile_blocks(const std::string& device,
                                                    const std::vector<BlockSpec>& specs) {
  auto& backend = backend_of(device);
  for (size_t i = 0; i < specs.size(); ++i) {
    try {
      specs[i].validate();
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument("specs[" + std::to_string(i) + "]: " + error.what());
    }
  }
  auto& metrics = farm_metrics();
  std::vector<BlockResult> results;
  for (const auto& spec : specs) {
    if (!backend.uses_host()) {
      results.push_back({spec, backend.measure_block(spec), true});
      metrics.cache_hits.with({device}).inc();
      continue;
    }
    if (auto stored = store_.find(device, spec)) {
      results.push_back({spec, *stored, true});
      metrics.cache_hits.with({device}).inc();
      continue;
    }
    const auto lock = wait_for_host();
    if (auto stored = store_.find(device, spec)) {  // measured while this request waited
      results.push_back({spec, *stored, true});
      metrics.cache_hits.with({device}).inc();
      continue;
    }
    metrics.cache_misses.with({device}).inc();
    const auto started = std::chrono::steady_clock::now();
    const auto stats = backend.measure_block(spec);
    record_measurement(device, "block", started);
    store_.put(device, spec, stats);
    results.push_back({spec, stats, false});
  }
  return results;
}

std::unique_lock<std::mutex> DeviceFarm::wait_for_host() {
  auto& waiting = farm_metrics().waiting;
  waiting.add(1);
  std::unique_lock lock(host_);
  waiting.add(-1);
  return lock;
}

void DeviceFarm::record_measurement(const std::string& device, const char* kind,
                                    std::chrono::steady_clock::time_point started) {
  auto& metrics = farm_metrics();
  metrics.measurements.with({device, kind}).inc();
  metrics.measurement_duration.with({device, kind})
      .observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

NetworkMeasurement DeviceFarm::profile_network(const std::string& device,
                                               const NafnetArchitecture& architecture, int height,
                                               int width) {
  auto& backend = backend_of(device);
  architecture.validate();
  if (!backend.uses_host()) return backend.measure_network(architecture, height, width);
  const auto lock = wait_for_host();
  const auto started = std::chrono::steady_clock::now();
  auto measured = backend.measure_network(architecture, height, width);
  record_measurement(device, "network", started);
  return measured;
}

}  // namespace ern::farm
