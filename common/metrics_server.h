#pragma once
// The HTTP side of a process's observability, on civetweb: GET /metrics (the process registry in
// Prometheus text format, with the standard process_* metrics), /healthz (the process answers) and
// /readyz (it can do its work: 200 or 503 with the reason).

#include <functional>
#include <memory>
#include <string>

struct mg_context;
struct mg_connection;

namespace ern::metrics {

class MetricsServer {
 public:
  // Returns an empty string when ready, else why not.
  using Readiness = std::function<std::string()>;

  // listen: HOST:PORT; port 0 picks a free one (see address()). Throws std::runtime_error naming
  // the address when it cannot listen.
  MetricsServer(const std::string& listen, Readiness readiness);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  const std::string& address() const { return address_; }  // HOST:PORT actually bound

 private:
  static int serve_metrics(mg_connection* connection, void* self);
  static int serve_health(mg_connection* connection, void* self);
  static int serve_readiness(mg_connection* connection, void* self);

  Readiness readiness_;
  mg_context* context_ = nullptr;
  std::string address_;
};

// Starts the server and logs "<process> metrics on HOST:PORT"; "" → none (no metrics port).
std::unique_ptr<MetricsServer> start_metrics_server(const std::string& process,
                                                    const std::string& listen,
                                                    MetricsServer::Readiness readiness);

}  // namespace ern::metrics
