#include "common/metrics_server.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <dlfcn.h>
#include <prometheus/exposer.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>

#include "common/metrics.h"
#include "common/process_metrics.h"

// Still needed with prometheus-cpp, whose Exposer runs on the same Debian civetweb: it starts its
// threads with 100 KiB stacks (built with USE_STACK_SIZE). glibc puts a thread's static TLS on its
// stack and refuses (EINVAL) a stack that cannot hold it, which is the case in processes that load
// LibTorch. Defined here, in the object every metrics user links, this takes the place of libc's
// function for the whole process and raises such small requests to a floor that fits; larger
// requests pass through unchanged.
extern "C" int pthread_attr_setstacksize(pthread_attr_t* attributes, size_t size) {
  using Function = int (*)(pthread_attr_t*, size_t);
  static const auto libc_function =
      reinterpret_cast<Function>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  constexpr size_t kFloor = size_t{2} << 20;
  return libc_function(attributes, std::max(size, kFloor));
}

namespace ern::metrics {
namespace {

void respond(mg_connection* connection, int status, const char* reason, const std::string& body) {
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            status, reason, body.size());
  mg_write(connection, body.data(), body.size());
}

// The Exposer owns its civetweb server and serves only collectables, so /healthz and /readyz are
// answered in civetweb's begin_request callback, which knows a request only by its connection:
// the servers of this process by the port they bound.
std::mutex servers_mutex;
std::map<int, const MetricsServer*> servers_by_port;

int answer_health(mg_connection* connection) {
  const mg_request_info* request = mg_get_request_info(connection);
  const std::string path = request->local_uri ? request->local_uri : "";
  if (path == "/healthz") {
    respond(connection, 200, "OK", "ok\n");
    return 200;
  }
  if (path != "/readyz") return 0;  // /metrics: the Exposer's
  std::lock_guard lock(servers_mutex);
  const auto found = servers_by_port.find(request->server_port);
  const std::string why_not =
      found == servers_by_port.end() ? "shutting down" : found->second->why_not_ready();
  if (why_not.empty()) {
    respond(connection, 200, "OK", "ready\n");
    return 200;
  }
  respond(connection, 503, "Service Unavailable", "not ready: " + why_not + "\n");
  return 503;
}

// "HOST:PORT" → HOST; civetweb wants "HOST:PORT" too but reports the port alone.
std::string host_of(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size()) {
    throw std::runtime_error("metrics listen address '" + listen + "' is not HOST:PORT");
  }
  return listen.substr(0, colon);
}

}  // namespace

MetricsServer::MetricsServer(const std::string& listen, Readiness readiness)
    : readiness_(std::move(readiness)) {
  const std::string host = host_of(listen);
  static CivetCallbacks callbacks = [] {
    CivetCallbacks made;
    made.begin_request = &answer_health;
    return made;
  }();
  // civetweb gives each connection a thread for as long as it takes to send its request: with few
  // threads, a handful of slow or stalled clients would leave liveness probes unanswered. Idle
  // threads cost only their stacks' address space; a stalled client is dropped after 5 s.
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(
        std::vector<std::string>{"listening_ports", listen, "num_threads", "32",
                                 "request_timeout_ms", "5000"},
        &callbacks);
  } catch (const std::exception& error) {
    throw std::runtime_error("metrics: cannot listen on " + listen + ": " + error.what());
  }
  const auto ports = exposer_->GetListeningPorts();
  if (ports.empty()) throw std::runtime_error("metrics: no port bound for " + listen);
  port_ = ports.front();
  address_ = host + ":" + std::to_string(port_);
  expose_process_metrics(registry());
  exposer_->RegisterCollectable(process_registry());
  std::lock_guard lock(servers_mutex);
  servers_by_port[port_] = this;
}

MetricsServer::~MetricsServer() {
  {
    std::lock_guard lock(servers_mutex);
    servers_by_port.erase(port_);
  }
  exposer_.reset();
}

std::unique_ptr<MetricsServer> start_metrics_server(const std::string& process,
                                                    const std::string& listen,
                                                    MetricsServer::Readiness readiness) {
  if (listen.empty()) return nullptr;
  auto server = std::make_unique<MetricsServer>(listen, std::move(readiness));
  spdlog::info("{} metrics on {}", process, server->address());
  return server;
}

}  // namespace ern::metrics
