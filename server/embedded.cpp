#include "server/embedded.h"

#include <algorithm>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/auth/token_channel.h"
#include "worker/worker.h"

namespace ern::server {
namespace {

farm::FarmConfig embedded_farm_config(const std::filesystem::path& config_file,
                                      const std::filesystem::path& data_dir) {
  auto config = farm::load_farm_config(config_file);
  config.data_dir = data_dir;
  return config;
}

}  // namespace

EmbeddedDeviceFarm::EmbeddedDeviceFarm(const std::filesystem::path& config_file,
                                       const std::filesystem::path& data_dir)
    : farm_(embedded_farm_config(config_file, data_dir)), service_(farm_) {
  // Loopback only, where plaintext is allowed; the config's own TLS section is for a farm of its
  // own on the network.
  running_ = start_grpc_server("127.0.0.1:0", {&service_}, "embedded ern-devicefarm",
                               grpc::InsecureServerCredentials());
}

EmbeddedDeviceFarm::~EmbeddedDeviceFarm() { shut_down(running_); }

EmbeddedWorkers::EmbeddedWorkers(int count, grpc::Server& coordinator, const std::string& token,
                                 const std::string& devicefarm,
                                 const tls::ClientTls& devicefarm_tls,
                                 const std::filesystem::path& data_dir,
                                 const std::vector<std::filesystem::path>& data_roots) {
  for (int i = 1; i <= count; ++i) {
    worker::WorkerOptions options;
    options.coordinator = "the coordinator (in process)";
    options.coordinator_channel =
        auth::in_process_channel_with_token(coordinator, grpc::ChannelArguments(), token);
    options.token = token;
    options.tls = devicefarm_tls;
    options.devicefarm = devicefarm;
    options.name = "embedded-" + std::to_string(i);
    // The workers share the host's cores.
    options.threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / count);
    options.data_dir = data_dir / "workers" / options.name;
    options.data_roots = data_roots;
    threads_.emplace_back([this, options] {
      try {
        worker::Worker(options).run(stop_);
      } catch (const std::exception& error) {
        spdlog::error("{}: {}", options.name, error.what());
      }
    });
  }
}

EmbeddedWorkers::~EmbeddedWorkers() {
  stop_ = true;
  for (auto& thread : threads_) thread.join();
}

}  // namespace ern::server
