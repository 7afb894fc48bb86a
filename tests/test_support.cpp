#include "tests/test_support.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <stdexcept>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "common/auth/token_channel.h"
#include "common/auth/token_file.h"

namespace ern::test {
std::filesystem::path source_dir() { return ERN_TEST_SOURCE_DIR; }
std::filesystem::path bin_dir() { return ERN_TEST_BIN_DIR; }
std::filesystem::path test_data_dir() { return ERN_TEST_DATA_DIR; }
std::string python() { return ERN_TEST_PYTHON; }

std::string admin_token(const std::filesystem::path& coordinator_data) {
  return auth::read_token_file(coordinator_data / "admin.token", "token-file");
}

std::shared_ptr<grpc::Channel> channel_with_token(const std::string& address,
                                                  const std::string& token,
                                                  const tls::ClientTls& tls) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(256 << 20);
  arguments.SetMaxSendMessageSize(256 << 20);
  return auth::channel_with_token(address, tls::channel_credentials(tls), arguments, token);
}

tls::ClientTls TestPki::client(bool with_certificate) const {
  if (!with_certificate) return {ca.string(), "", ""};
  return {ca.string(), client_cert.string(), client_key.string()};
}

TestPki make_test_pki(const std::filesystem::path& directory) {
  // The script operators use (scripts/make-dev-pki.sh), twice: ours, and someone else's.
  for (const char* name : {"trusted", "rogue"}) {
    const auto result = run(
        {"bash", (source_dir() / "scripts/make-dev-pki.sh").string(), (directory / name).string()});
    if (result.exit_code != 0) throw std::runtime_error("make-dev-pki.sh: " + result.output);
  }
  const auto trusted = directory / "trusted", rogue = directory / "rogue";
  return {trusted / "ca.pem",     trusted / "server.pem", trusted / "server.key",
          trusted / "client.pem", trusted / "client.key", rogue / "ca.pem",
          rogue / "client.pem",   rogue / "client.key"};
}

namespace {

// A TCP socket connected to HOST:PORT; -1 when the address does not resolve or connect.
int connect_to(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host_port.substr(0, colon).c_str(), host_port.substr(colon + 1).c_str(), &hints,
                  &found) != 0) {
    return -1;
  }
  int socket_fd = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  if (socket_fd >= 0 && connect(socket_fd, found->ai_addr, found->ai_addrlen) != 0) {
    close(socket_fd);
    socket_fd = -1;
  }
  freeaddrinfo(found);
  return socket_fd;
}

}  // namespace

StalledConnection::StalledConnection(const std::string& host_port, const std::string& bytes)
    : socket_(connect_to(host_port)) {
  if (socket_ < 0) throw std::runtime_error("cannot connect to " + host_port);
  if (write(socket_, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) {
    throw std::runtime_error("cannot write to " + host_port);
  }
}

StalledConnection::~StalledConnection() { close(socket_); }

HttpResponse http_get(const std::string& host_port, const std::string& path_and_query,
                      std::chrono::milliseconds timeout) {
  HttpResponse response;
  const int socket_fd = connect_to(host_port);
  if (socket_fd < 0) return response;
  const timeval limit{static_cast<time_t>(timeout.count() / 1000),
                      static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
  setsockopt(socket_fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  const std::string request =
      "GET " + path_and_query + " HTTP/1.0\r\nHost: " + host_port + "\r\nConnection: close\r\n\r\n";
  if (write(socket_fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
    std::string text;
    char buffer[65536];
    ssize_t got;
    while ((got = read(socket_fd, buffer, sizeof buffer)) > 0) text.append(buffer, got);
    const auto header_end = text.find("\r\n\r\n");
    if (text.rfind("HTTP/1.", 0) == 0 && header_end != std::string::npos) {
      response.status = std::stoi(text.substr(9, 3));
      response.body = text.substr(header_end + 4);
    }
  }
  close(socket_fd);
  return response;
}

std::string tiny_search_spec(int search_steps, int checkpoint_every) {
  return "name: tiny\n"
         "device: cpu-1t\n"
         "data: " +
         test_data_dir().string() +
         "\n"
         "architecture: {width: 8, encoder_blocks: [1, 1], middle_blocks: 1, decoder_blocks: [1, "
         "1]}\n"
         "training: {batch: 2, patch: 32}\n"
         "stages: {warmup_steps: 10, search_steps: " +
         std::to_string(search_steps) +
         ", finetune_steps: 10, checkpoint_every: " + std::to_string(checkpoint_every) +
         "}\n"
         "search: {alpha_learning_rate: 0.05, lambda_latency: 0.2}\n"
         "latency: {size: [96, 96]}\n"
         "evaluation: {sigmas: [25]}\n";
}

std::string message_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const std::exception& error) {
    return error.what();
  }
  return "";
}

int free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

SubprocessResult run(const std::vector<std::string>& argv) {
  auto result = run_subprocess(argv);
  EXPECT_NE(result.exit_code, -1) << "could not run " << argv[0] << ": " << result.output;
  return result;
}

}  // namespace ern::test

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace ern::test {

ServerProcess::ServerProcess(const std::string& binary, const std::vector<std::string>& args,
                             const std::filesystem::path& log_file, const std::string& ready_marker)
    : log_file_(log_file) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  // Every ERN server's metrics port is an ephemeral one on loopback unless the test names one, so
  // servers started side by side never compete for the configured defaults.
  std::vector<std::string> all_args = args;
  const bool ern_server = std::filesystem::path(binary).filename().string().rfind("ern-", 0) == 0;
  if (ern_server && std::find(args.begin(), args.end(), "--metrics-listen") == args.end()) {
    all_args.insert(all_args.end(), {"--metrics-listen", "127.0.0.1:0"});
  }
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& arg : all_args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  const int error = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) throw std::runtime_error("cannot start " + binary);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = log();
    const auto found = text.find(ready_marker);
    if (found != std::string::npos) {
      const auto end = text.find('\n', found);
      if (end != std::string::npos) {
        const auto start = found + ready_marker.size();
        address_ = text.substr(start, end - start);
        return;
      }
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error(binary + " exited during start-up: " + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  stop();
  throw std::runtime_error(binary + " did not log '" + ready_marker + "' within 60 s: " + log());
}

ServerProcess::~ServerProcess() { stop(); }

std::string ServerProcess::metrics_address() const {
  const std::string marker = "metrics on ";
  if (!wait_for_log(marker, std::chrono::seconds(10))) {
    throw std::runtime_error("no metrics address logged: " + log());
  }
  const std::string text = log();
  const auto start = text.find(marker) + marker.size();
  return text.substr(start, text.find_first_of(" \n", start) - start);
}

std::string ServerProcess::log() const {
  std::ifstream in(log_file_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int ServerProcess::stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void ServerProcess::kill_hard() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

bool ServerProcess::wait_for_log(const std::string& text, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (log().find(text) == std::string::npos) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::string create_token(const std::string& coordinator, const std::string& admin,
                         const std::string& team, const std::string& role) {
  const auto created = run({(bin_dir() / "ernctl").string(), "tokens", "create", "--team", team,
                            "--role", role, "--server", coordinator, "--token", admin});
  EXPECT_EQ(created.exit_code, 0) << created.output;
  auto text = created.output;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text.substr(text.rfind('\n') + 1);
}

std::unique_ptr<ServerProcess> start_quick_devicefarm(const std::filesystem::path& dir,
                                                      const std::string& listen,
                                                      const std::string& log_name) {
  std::ofstream(dir / "farm.yaml")
      << "measurement: {warmup_runs: 2, min_runs: 5, max_runs: 20, budget_seconds: 0.5}\n"
         "devices:\n  - {id: cpu-1t, backend: local-cpu, threads: 1}\n";
  return std::make_unique<ServerProcess>(
      (bin_dir() / "ern-devicefarm").string(),
      std::vector<std::string>{"--config", (dir / "farm.yaml").string(), "--listen", listen,
                               "--data", (dir / "farm").string()},
      dir / log_name);
}

std::unique_ptr<ServerProcess> start_test_worker(const std::filesystem::path& dir,
                                                 const std::string& coordinator,
                                                 const std::string& devicefarm,
                                                 const std::string& name,
                                                 const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--coordinator", coordinator,
                                   "--token-file",  (dir / "coordinator" / "admin.token").string(),
                                   "--devicefarm",  devicefarm,
                                   "--name",        name,
                                   "--data",        (dir / name).string(),
                                   "--poll-ms",     "100",
                                   "--progress-ms", "100",
                                   "--threads",     "1",
                                   "--data-roots",  test_data_dir().string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<ServerProcess>((bin_dir() / "ern-worker").string(), args,
                                         dir / (name + ".log"), "registered with ");
}

std::filesystem::path coordinator_config_without_scoring(const std::filesystem::path& dir) {
  auto config = YAML::LoadFile((source_dir() / "configs" / "coordinator.yaml").string());
  config["promotion"]["images"] = "";
  const auto path = dir / "coordinator-without-scoring.yaml";
  std::ofstream(path) << config << "\n";
  return path;
}

std::unique_ptr<ServerProcess> start_coordinator(const std::filesystem::path& dir,
                                                 const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--listen", "127.0.0.1:0", "--data",
                                   (dir / "coordinator").string()};
  if (std::find(extra.begin(), extra.end(), "--config") == extra.end()) {
    args.insert(args.end(), {"--config", coordinator_config_without_scoring(dir).string()});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  return std::make_unique<ServerProcess>((bin_dir() / "ern-coordinator").string(), args,
                                         dir / "coordinator.log");
}

}  // namespace ern::test
