#pragma once
// Paths and helpers shared by the tests; the paths are fixed when CMake configures the build
// (see tests/CMakeLists.txt).

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "common/tls/transport_security.h"

namespace grpc {
class Channel;
}

namespace ern::test {

std::filesystem::path source_dir();
std::filesystem::path bin_dir();
// data/images layout: train/ and val/ with real photographs.
std::filesystem::path test_data_dir();
std::string python();

// A fresh directory removed at the end of the test.
// A temporary directory removed at the end of the test.
using TempDir = ern::TempDir;

struct HttpResponse {
  int status = 0;  // 0: no answer
  std::string body;
};
// A plain HTTP/1.0 GET on loopback (for /metrics, /healthz, Prometheus's API); no answer within
// `timeout` (as a probe would give up) gives status 0.
HttpResponse http_get(const std::string& host_port, const std::string& path_and_query,
                      std::chrono::milliseconds timeout = std::chrono::seconds(60));
// A TCP connection to HOST:PORT that sends `bytes` and then stays open until destroyed, as a slow
// or stalled client would.
class StalledConnection {
 public:
  StalledConnection(const std::string& host_port, const std::string& bytes);
  ~StalledConnection();
  StalledConnection(const StalledConnection&) = delete;
  StalledConnection& operator=(const StalledConnection&) = delete;

 private:
  int socket_ = -1;
};

// A search spec small enough for a test: width 8, (1-1)-1-(1-1), on device cpu-1t, with the
// test photographs; 10 warm-up, `search_steps`, 10 + 10 fine-tune steps.
std::string tiny_search_spec(int search_steps, int checkpoint_every = 20);

// The admin token a coordinator writes to DATA/admin.token on its first start.
std::string admin_token(const std::filesystem::path& coordinator_data);
// A new token of `role` in `team`, made with `ernctl tokens create` (its last line) using `admin`.
std::string create_token(const std::string& coordinator, const std::string& admin,
                         const std::string& team, const std::string& role);
// A channel whose every call carries `token` (none when empty); TLS when `tls` names a CA.
std::shared_ptr<grpc::Channel> channel_with_token(const std::string& address,
                                                  const std::string& token,
                                                  const tls::ClientTls& tls = {});

// Certificates for a test, made by scripts/make-dev-pki.sh: a CA, a server certificate for
// 127.0.0.1 and localhost, and a client certificate (mutual TLS), all signed by that CA; and a
// client certificate from another CA, which servers must refuse.
struct TestPki {
  std::filesystem::path ca, server_cert, server_key, client_cert, client_key;
  std::filesystem::path rogue_ca, rogue_cert, rogue_key;
  tls::ClientTls client(bool with_certificate = false) const;
};
TestPki make_test_pki(const std::filesystem::path& directory);

// The shipped configs/coordinator.yaml without the quality gate's scoring, written to DIR: scoring
// full-size photographs in the background of every test would take the CPU that the test's own
// processes need (leases and rendezvous then time out on a busy machine). Tests of the gate write
// their own `promotion:` section.
std::filesystem::path coordinator_config_without_scoring(const std::filesystem::path& dir);

class ServerProcess;
// An ern-coordinator on a free loopback port with its data in DIR/coordinator and its log in
// DIR/coordinator.log, plus `extra` arguments; without `--config` among them, the config of
// coordinator_config_without_scoring.
std::unique_ptr<ServerProcess> start_coordinator(const std::filesystem::path& dir,
                                                 const std::vector<std::string>& extra = {});

// An ern-devicefarm with one device measured quickly (cpu-1t, half a second per spec) on `listen`,
// its config and data in DIR, its log DIR/`log_name`.
std::unique_ptr<ServerProcess> start_quick_devicefarm(const std::filesystem::path& dir,
                                                      const std::string& listen = "127.0.0.1:0",
                                                      const std::string& log_name = "farm.log");

// An ern-worker NAME for a test: it acts with the coordinator's admin token (from DIR/coordinator),
// polls and reports every 100 ms, trains on one thread, reads the test photographs, keeps its data
// in DIR/NAME and logs to DIR/NAME.log; `extra` arguments go last.
std::unique_ptr<ServerProcess> start_test_worker(const std::filesystem::path& dir,
                                                 const std::string& coordinator,
                                                 const std::string& devicefarm,
                                                 const std::string& name,
                                                 const std::vector<std::string>& extra = {});

// What `action` threw (the exception's message), or "" when it returned.
std::string message_of(const std::function<void()>& action);

// A loopback port that was free a moment ago (for a server that must come back on the same one).
int free_loopback_port();

// Runs a program, failing the test (with its output) if it cannot be started.
SubprocessResult run(const std::vector<std::string>& argv);

}  // namespace ern::test

namespace ern::test {

// A server binary started for a test: its log goes to a file, start-up waits for its
// "listening on HOST:PORT" line (port 0 in, the bound port out) or, for a process that does not
// listen (ern-worker), another `ready_marker`; destruction sends SIGTERM and waits for the exit.
// An ern-* server gets `--metrics-listen 127.0.0.1:0` unless `args` name one.
class ServerProcess {
 public:
  ServerProcess(const std::string& binary, const std::vector<std::string>& args,
                const std::filesystem::path& log_file,
                const std::string& ready_marker = "listening on ");
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& address() const { return address_; }
  // The HOST:PORT of its /metrics endpoint, from the "metrics on HOST:PORT" line it logs.
  std::string metrics_address() const;
  int pid() const { return pid_; }
  std::string log() const;
  // SIGTERM and wait; returns the exit status (or -1 when killed by a signal).
  int stop();
  // SIGKILL and wait: a crash, no clean-up.
  void kill_hard();
  // Polls the log until it contains `text`; false on timeout.
  bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout) const;

 private:
  int pid_ = -1;
  std::filesystem::path log_file_;
  std::string address_;
};

}  // namespace ern::test
