#include "common/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include <chrono>
#include <csignal>
#include <stdexcept>

#include <spdlog/spdlog.h>

namespace ern {

RunningServer start_grpc_server(const std::string& listen,
                                const std::vector<grpc::Service*>& services,
                                const std::string& name,
                                const std::shared_ptr<grpc::ServerCredentials>& credentials,
                                const ServerLimits& limits) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(listen, credentials, &port);
  // Images and checkpoint chunks: well above gRPC's 4 MiB default.
  builder.SetMaxReceiveMessageSize(limits.max_message_bytes);
  builder.SetMaxSendMessageSize(limits.max_message_bytes);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              limits.waiting_calls);
  grpc::ResourceQuota threads(name + " call threads");
  threads.SetMaxThreads(limits.waiting_calls + kThreadsBeyondWaitingCalls);
  builder.SetResourceQuota(threads);
  for (auto* service : services) builder.RegisterService(service);
  RunningServer running;
  running.server = builder.BuildAndStart();
  if (!running.server || port == 0) {
    throw std::runtime_error("--listen: cannot listen on " + listen);
  }
  running.address = listen.substr(0, listen.rfind(':')) + ":" + std::to_string(port);
  spdlog::info("{} listening on {}", name, running.address);
  return running;
}

void block_termination_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

int wait_for_termination_signal() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("signal {}: shutting down", received);
  return received;
}

void shut_down(RunningServer& running) {
  running.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
}

void serve_until_signalled(RunningServer& running) {
  wait_for_termination_signal();
  shut_down(running);
}

std::string loopback_address(const std::string& bound) {
  return "127.0.0.1:" + bound.substr(bound.rfind(':') + 1);
}

}  // namespace ern
