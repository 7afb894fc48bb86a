#pragma once
// The HTTP side of a process's observability: prometheus-cpp's pull Exposer (on civetweb) serves
// GET /metrics (the process registry, with the standard process_* metrics); beside it /healthz
// (the process answers) and /readyz (it can do its work: 200 or 503 with the reason).

#include <functional>
#include <memory>
#include <string>

namespace prometheus {
class Exposer;
}

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
  std::string why_not_ready() const { return readiness_(); }

 private:
  Readiness readiness_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::string address_;
  int port_ = 0;
};

// Starts the server and logs "<process> metrics on HOST:PORT"; "" → none (no metrics port).
std::unique_ptr<MetricsServer> start_metrics_server(const std::string& process,
                                                    const std::string& listen,
                                                    MetricsServer::Readiness readiness);

}  // namespace ern::metrics
