#include "common/metrics_server.h"

#include <civetweb.h>
#include <dlfcn.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "common/metrics.h"
#include "common/process_metrics.h"

// Debian's civetweb starts its threads with 100 KiB stacks (built with USE_STACK_SIZE). glibc puts
// a thread's static TLS on its stack and refuses (EINVAL) a stack that cannot hold it, which is the
// case in processes that load LibTorch. Defined here, in the object every metrics user links, this
// takes the place of libc's function for the whole process and raises such small requests to a
// floor that fits; larger requests pass through unchanged.
extern "C" int pthread_attr_setstacksize(pthread_attr_t* attributes, size_t size) {
  using Function = int (*)(pthread_attr_t*, size_t);
  static const auto libc_function =
      reinterpret_cast<Function>(dlsym(RTLD_NEXT, "pthread_attr_setstacksize"));
  constexpr size_t kFloor = size_t{2} << 20;
  return libc_function(attributes, std::max(size, kFloor));
}

namespace ern::metrics {
namespace {

void respond(mg_connection* connection, int status, const char* reason, const char* content_type,
             const std::string& body) {
  mg_printf(connection,
            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            status, reason, content_type, body.size());
  mg_write(connection, body.data(), body.size());
}

// "HOST:PORT" → (host, port); civetweb wants "HOST:PORT" too but reports the port alone.
std::pair<std::string, std::string> split_address(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    throw std::runtime_error("metrics listen address '" + listen + "' is not HOST:PORT");
  }
  return {listen.substr(0, colon), listen.substr(colon + 1)};
}

}  // namespace

MetricsServer::MetricsServer(const std::string& listen, Readiness readiness)
    : readiness_(std::move(readiness)) {
  static const unsigned initialized = mg_init_library(0);
  (void)initialized;
  const auto [host, port] = split_address(listen);
  // civetweb gives each connection a thread for as long as it takes to send its request: with few
  // threads, a handful of slow or stalled clients would leave liveness probes unanswered. Idle
  // threads cost only their stacks' address space; a stalled client is dropped after 5 s.
  const char* options[] = {"listening_ports",    listen.c_str(), "num_threads", "32",
                           "request_timeout_ms", "5000",         nullptr};
  mg_callbacks callbacks{};
  mg_init_data init{&callbacks, nullptr, options};
  unsigned error_code = 0;
  char error_text[256] = "";
  mg_error_data error{&error_code, error_text, sizeof error_text};
  context_ = mg_start2(&init, &error);
  if (!context_) {
    throw std::runtime_error("metrics: cannot listen on " + listen + ": " + error_text);
  }
  mg_server_port bound{};
  if (mg_get_server_ports(context_, 1, &bound) < 1) {
    mg_stop(context_);
    throw std::runtime_error("metrics: no port bound for " + listen);
  }
  address_ = host + ":" + std::to_string(bound.port);
  expose_process_metrics(registry());
  mg_set_request_handler(context_, "/metrics$", &MetricsServer::serve_metrics, this);
  mg_set_request_handler(context_, "/healthz$", &MetricsServer::serve_health, this);
  mg_set_request_handler(context_, "/readyz$", &MetricsServer::serve_readiness, this);
}

MetricsServer::~MetricsServer() { mg_stop(context_); }

int MetricsServer::serve_metrics(mg_connection* connection, void*) {
  respond(connection, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", registry().render());
  return 200;
}

int MetricsServer::serve_health(mg_connection* connection, void*) {
  respond(connection, 200, "OK", "text/plain", "ok\n");
  return 200;
}

int MetricsServer::serve_readiness(mg_connection* connection, void* self) {
  const std::string why_not = static_cast<MetricsServer*>(self)->readiness_();
  if (why_not.empty()) {
    respond(connection, 200, "OK", "text/plain", "ready\n");
    return 200;
  }
  respond(connection, 503, "Service Unavailable", "text/plain", "not ready: " + why_not + "\n");
  return 503;
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
