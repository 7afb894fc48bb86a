#pragma once
// Starting an ERN gRPC server the same way in every process: standard health checking and server
// reflection on, port 0 picks a free port (the bound one is returned and logged), and SIGINT or
// SIGTERM shut it down cleanly.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

namespace ern {

// The largest single message an ERN client accepts, and a server unless configured otherwise.
constexpr int kMaxMessageBytes = 256 << 20;

struct ServerLimits {
  int max_message_bytes = kMaxMessageBytes;
  // Calls the server's handlers admit at once that hold their thread while they wait (Denoise
  // waiting for its batch, watch streams). gRPC's synchronous server keeps two idle threads by
  // default: with such calls every finished call's thread then exits and every new call starts
  // one, about a thread per call under load; it keeps this many instead. Every other call shares
  // kThreadsBeyondWaitingCalls more, the server's last bound: reflection streams need no token and
  // hold a thread each for as long as the client likes. Beyond, calls get RESOURCE_EXHAUSTED.
  int waiting_calls = 8;
};

constexpr int kThreadsBeyondWaitingCalls = 64;

struct RunningServer {
  std::unique_ptr<grpc::Server> server;
  std::string address;  // host:port actually bound
};

// `credentials`: TLS or plaintext, from tls::server_credentials (which refuses plaintext beyond
// loopback). Throws std::runtime_error naming the address when it cannot be bound.
RunningServer start_grpc_server(const std::string& listen,
                                const std::vector<grpc::Service*>& services,
                                const std::string& name,
                                const std::shared_ptr<grpc::ServerCredentials>& credentials,
                                const ServerLimits& limits = {});

// Blocks until SIGINT or SIGTERM, then shuts the server down (in-flight calls get a short grace).
// Call block_termination_signals() before starting any thread.
void block_termination_signals();
void serve_until_signalled(RunningServer& running);
// The two halves of serve_until_signalled, for processes that stop more than one thing.
int wait_for_termination_signal();
void shut_down(RunningServer& running);

// "127.0.0.1:PORT" for a bound "HOST:PORT" (0.0.0.0 and [::] are not addresses to dial).
std::string loopback_address(const std::string& bound);

}  // namespace ern
