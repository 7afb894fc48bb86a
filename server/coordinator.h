#pragma once
// The coordinator assembled: job store, tokens and audit log, artifact store, the
// Search/Model/Worker/Denoise/Access services on one gRPC server, and the sweeper that returns
// tasks whose lease expired to the queue. On first start it writes an admin token to
// DATA/admin.token (mode 0600).

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "common/directory_lock.h"
#include "common/grpc_server.h"
#include "common/metrics.h"
#include "common/metrics_server.h"
#include "common/tls/transport_security.h"
#include "server/access_service.h"
#include "server/artifact_store.h"
#include "server/audit_log.h"
#include "server/call_authority.h"
#include "server/job_store.h"
#include "server/model_service.h"
#include "server/quality_gate.h"
#include "server/registry_catalog.h"
#include "server/search_service.h"
#include "server/shipped_models.h"
#include "server/token_store.h"
#include "server/worker_service.h"
#include "serving/denoise_service.h"

namespace ern::server {

struct CoordinatorConfig {
  std::string listen = "127.0.0.1:50051";
  tls::ServerTls tls;               // TLS of the gRPC port; plaintext only on loopback unless...
  bool insecure_plaintext = false;  // ...the operator says so (--insecure-plaintext)
  std::string metrics_listen;       // HOST:PORT of /metrics, /healthz, /readyz; empty: none
  std::filesystem::path data_dir = "data/coordinator";
  LeaseTiming timing;
  std::string devicefarm;  // HOST:PORT used to check a submitted spec's device; empty: not checked
  tls::ClientTls devicefarm_tls;    // how the coordinator and its embedded workers dial that farm
  serving::ServingOptions serving;  // Denoise limits and batching
  ShippedModels shipped;            // registered on an empty registry
  PromotionConfig promotion;
  QuotaConfig quotas;
};

// Reads a YAML config (listen, tls: {...}, metrics_listen, data, heartbeat_interval_ms,
// lease_duration_ms, devicefarm, devicefarm_tls: {...}, serving: {...}, shipped_models: {...},
// promotion: {...}, quotas: {...}).
CoordinatorConfig load_coordinator_config(const std::filesystem::path& yaml_file);

class Coordinator {
 public:
  explicit Coordinator(CoordinatorConfig config);
  ~Coordinator();

  // Starts serving (gRPC, and metrics when configured); returns the bound gRPC address.
  const std::string& start();
  RunningServer& running() { return running_; }
  const metrics::MetricsServer* metrics_server() const { return metrics_server_.get(); }
  // Readiness answers 503 from now on (a terminating coordinator).
  void begin_shutdown() { stopping_ = true; }
  JobStore& store() { return store_; }
  // For the coordinator's own workers (role worker, never written anywhere).
  const std::string& embedded_worker_token() const { return tokens_.embedded_worker_token(); }

 private:
  void sweep_leases();

  CoordinatorConfig config_;
  DirectoryLock data_lock_;  // first: nothing in the data directory is touched without it
  JobStore store_;
  TokenStore tokens_;
  AuditLog audit_;
  CallAuthority authority_;
  ArtifactStore artifacts_;
  QualityGate gate_;
  AccessServiceImpl access_;
  SearchServiceImpl search_;
  ModelServiceImpl models_;
  WorkerServiceImpl workers_;
  RegistryCatalog catalog_;
  serving::DenoiseServiceImpl denoise_;
  RunningServer running_;
  std::atomic<bool> stopping_{false};
  std::thread sweeper_;
  std::unique_ptr<metrics::Registry::ScrapeHook> scrape_hook_;
  std::unique_ptr<metrics::MetricsServer> metrics_server_;
};

}  // namespace ern::server
