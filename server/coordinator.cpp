#include "server/coordinator.h"

#include <algorithm>
#include <chrono>

#include <spdlog/spdlog.h>

#include "common/yaml_config.h"
#include "devicefarm/latency_client.h"
#include "server/search_metrics.h"

namespace ern::server {
namespace {

std::function<void(const std::string&)> device_checker(const std::string& devicefarm,
                                                       const tls::ClientTls& tls,
                                                       const std::string& token) {
  if (devicefarm.empty()) return nullptr;
  auto client = std::make_shared<farm::LatencyClient>(devicefarm, tls, token);
  return [client](const std::string& device) { client->check_device(device); };
}

}  // namespace

CoordinatorConfig load_coordinator_config(const std::filesystem::path& yaml_file) {
  const auto root = load_yaml_file(yaml_file);
  CoordinatorConfig config;
  try {
    reject_unknown_fields(
        root, "",
        {"listen", "tls", "metrics_listen", "data", "heartbeat_interval_ms", "lease_duration_ms",
         "devicefarm", "devicefarm_tls", "serving", "shipped_models", "promotion", "quotas"});
    read_yaml_field(root, "", "listen", config.listen);
    config.tls = tls::read_server_tls(root["tls"], "tls.");
    config.devicefarm_tls = tls::read_client_tls(root["devicefarm_tls"], "devicefarm_tls.");
    read_yaml_field(root, "", "metrics_listen", config.metrics_listen);
    std::string data;
    read_yaml_field(root, "", "data", data);
    if (!data.empty()) config.data_dir = data;
    read_yaml_field(root, "", "heartbeat_interval_ms", config.timing.heartbeat_interval_ms);
    read_yaml_field(root, "", "lease_duration_ms", config.timing.lease_duration_ms);
    read_yaml_field(root, "", "devicefarm", config.devicefarm);
    config.serving = serving::read_serving_options(root["serving"]);
    config.shipped = read_shipped_models(root["shipped_models"]);
    config.promotion = read_promotion_config(root["promotion"]);
    config.quotas = read_quota_config(root["quotas"]);
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
      data_lock_(config_.data_dir),
      store_(config_.data_dir / "coordinator.db"),
      tokens_(config_.data_dir / "coordinator.db"),
      audit_(config_.data_dir / "coordinator.db"),
      authority_(tokens_, audit_),
      artifacts_(config_.data_dir / "artifacts"),
      gate_(store_, artifacts_, config_.promotion),
      access_(tokens_, audit_, authority_),
      search_(store_, authority_, config_.quotas,
              device_checker(config_.devicefarm, config_.devicefarm_tls,
                             tokens_.embedded_worker_token())),
      models_(store_, artifacts_, gate_, authority_, config_.quotas),
      workers_(store_, artifacts_, config_.timing, gate_, authority_, config_.quotas),
      catalog_(store_, artifacts_),
      denoise_(catalog_, config_.serving, config_.quotas.app_tokens, tokens_) {}

Coordinator::~Coordinator() {
  stopping_ = true;
  metrics_server_.reset();
  scrape_hook_.reset();
  if (sweeper_.joinable()) sweeper_.join();
}

const std::string& Coordinator::start() {
  tokens_.bootstrap_admin(config_.data_dir / "admin.token");
  register_shipped_models(store_, artifacts_, config_.shipped);
  gate_.start();
  ServerLimits limits;
  // Artifact uploads need their chunks whatever Denoise allows.
  limits.max_message_bytes = std::max(config_.serving.max_message_bytes, kMaxMessageBytes);
  limits.waiting_calls =
      config_.serving.max_concurrent_requests + kMaxWatchStreams + kMaxRegistryWatches;
  running_ = start_grpc_server(
      config_.listen, {&search_, &models_, &workers_, &denoise_, &access_}, "ern-coordinator",
      tls::server_credentials(config_.tls, config_.listen, config_.insecure_plaintext, "tls."),
      limits);
  sweeper_ = std::thread([this] { sweep_leases(); });
  // Counts by state come from the store when Prometheus asks.
  scrape_hook_ = metrics::registry().on_scrape([this] {
    auto& metrics = search_metrics();
    const auto counts = store_.job_counts();
    for (const auto state : {v1::QUEUED, v1::RUNNING, v1::SUCCEEDED, v1::FAILED, v1::CANCELLED}) {
      const auto found = counts.find(state);
      metrics.jobs.with({v1::JobState_Name(state)})
          .set(found == counts.end() ? 0.0 : static_cast<double>(found->second));
    }
    const auto workers = store_.worker_counts(config_.timing.lease_duration_ms);
    metrics.workers.with({"live"}).set(static_cast<double>(workers.live));
    metrics.workers.with({"busy"}).set(static_cast<double>(workers.busy));
    metrics.workers.with({"lost"}).set(static_cast<double>(workers.lost));
  });
  metrics_server_ = metrics::start_metrics_server(
      "ern-coordinator", config_.metrics_listen,
      [this] { return stopping_ ? std::string("shutting down") : std::string(); });
  return running_.address;
}

void Coordinator::sweep_leases() {
  const auto period =
      std::chrono::milliseconds(std::max<int64_t>(10, config_.timing.heartbeat_interval_ms / 2));
  while (!stopping_) {
    try {
      const int expired = store_.expire_leases();
      search_metrics().leases_expired.inc(expired);
      if (expired > 0)
        spdlog::warn("{} lease(s) expired; their jobs went back to the queue", expired);
    } catch (const std::exception& error) {
      spdlog::error("lease sweep: {}", error.what());
    }
    std::this_thread::sleep_for(period);
  }
}

}  // namespace ern::server
