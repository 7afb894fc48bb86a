#include "serving/registry_mirror.h"

#include <spdlog/spdlog.h>

#include <fstream>

#include "common/dir_archive.h"
#include "common/rpc_error.h"
#include "common/sha256.h"

namespace ern::serving {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// No model archive is larger (a width-64 NAFNet in fp32 is about 0.3 GB).
constexpr int64_t kMaxArchiveBytes = int64_t{2} << 30;
constexpr auto kFirstRetry = 500ms;
constexpr auto kLastRetry = 10s;
constexpr auto kDownloadDeadline = 10min;

// The unavailable coordinator, as callers see it (its address and the reason go to the log).
RpcError unavailable(const v1::Model& model) {
  return RpcError(
      grpc::StatusCode::UNAVAILABLE,
      "model " + model.id() + " is not cached on this replica and the registry cannot be reached");
}

}  // namespace

RegistryMirror::RegistryMirror(std::shared_ptr<grpc::Channel> registry,
                               std::string registry_address, fs::path cache,
                               std::function<void(const v1::Model&)> prepare)
    : stub_(v1::ModelService::NewStub(std::move(registry))),
      registry_address_(std::move(registry_address)),
      cache_(std::move(cache)),
      prepare_(std::move(prepare)) {
  fs::remove_all(cache_ / "models");
  fs::remove_all(cache_ / "incoming");
  for (const char* folder : {"archives", "models", "incoming"}) {
    fs::create_directories(cache_ / folder);
  }
}

RegistryMirror::~RegistryMirror() { stop(); }

void RegistryMirror::start() {
  watcher_ = std::thread([this] { watch(); });
}

void RegistryMirror::stop() {
  {
    std::lock_guard lock(stop_mutex_);
    stopping_ = true;
    if (watch_context_ != nullptr) watch_context_->TryCancel();
  }
  stop_signal_.notify_all();
  if (watcher_.joinable()) watcher_.join();
}

bool RegistryMirror::pause(std::chrono::milliseconds delay) {
  std::unique_lock lock(stop_mutex_);
  return !stop_signal_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void RegistryMirror::watch() {
  std::chrono::milliseconds retry = kFirstRetry;
  bool was_connected = true;  // so that the first failure is logged
  while (!stopping_) {
    grpc::ClientContext context;
    {
      std::lock_guard lock(stop_mutex_);
      if (stopping_) return;
      watch_context_ = &context;
    }
    auto reader = stub_->WatchModels(&context, v1::WatchModelsRequest());
    v1::RegistrySnapshot snapshot;
    std::string failure;
    try {
      while (reader->Read(&snapshot)) {
        if (!was_connected) spdlog::info("registry {} reachable again", registry_address_);
        was_connected = true;
        retry = kFirstRetry;
        apply(snapshot);
      }
    } catch (const std::exception& error) {
      failure = error.what();  // the new default could not be fetched: start over
      context.TryCancel();
    }
    const auto status = reader->Finish();
    {
      std::lock_guard lock(stop_mutex_);
      watch_context_ = nullptr;
    }
    if (stopping_) return;
    if (failure.empty())
      failure = std::to_string(status.error_code()) + " " + status.error_message();
    if (was_connected) {
      spdlog::warn("registry {}: {}; serving what this replica holds and retrying",
                   registry_address_, failure);
    }
    was_connected = false;
    if (!pause(retry)) return;
    retry = std::min<std::chrono::milliseconds>(retry * 2, kLastRetry);
  }
}

void RegistryMirror::apply(const v1::RegistrySnapshot& snapshot) {
  std::map<std::string, v1::Model> models;
  for (const auto& model : snapshot.models()) {
    if (!is_sha256_hex(model.sha256())) {
      spdlog::warn("registry {}: model {} has no valid archive hash; skipped", registry_address_,
                   model.id().substr(0, 64));
      continue;
    }
    models[model.id()] = model;
  }
  const auto next_default = models.find(snapshot.default_model_id());
  {
    std::lock_guard lock(mutex_);
    models_ = models;  // new models are there at once; the default switches once it is loaded
    synced_ = true;
    if (next_default == models.end() || (default_ && default_->id() == next_default->first)) {
      return;
    }
  }
  auto model = next_default->second;
  model.set_is_default(true);
  prepare_(model);  // downloads (through directory()) and loads it; throws if it cannot
  std::lock_guard lock(mutex_);
  const std::string previous = default_ ? default_->id() : std::string("none");
  default_ = model;
  spdlog::info("default model now {} ({}), was {}", model.id(), model.name(), previous);
}

v1::Model RegistryMirror::resolve(const std::string& requested) {
  std::lock_guard lock(mutex_);
  if (requested.empty()) {
    if (!default_) {
      throw RpcError(grpc::StatusCode::FAILED_PRECONDITION,
                     "model: none named and this replica has no default model yet");
    }
    return *default_;
  }
  if (default_ && (default_->id() == requested || default_->name() == requested)) return *default_;
  for (const auto& [id, model] : models_) {
    if (id == requested || model.name() == requested) {
      auto found = model;
      found.set_is_default(false);
      return found;
    }
  }
  throw RpcError(grpc::StatusCode::NOT_FOUND, "id: no model " + requested.substr(0, 128));
}

fs::path RegistryMirror::directory(const v1::Model& model) {
  const std::string& sha = model.sha256();
  if (!is_sha256_hex(sha)) throw std::runtime_error("model " + model.id() + ": bad archive hash");
  const auto unpacked = cache_ / "models" / sha;
  std::lock_guard lock(fetch_mutex_);
  if (unpacked_.count(sha)) return unpacked;
  const auto archive = cache_ / "archives" / (sha + ".ernar");
  if (!fs::exists(archive) || sha256_file_hex(archive) != sha) download(model, archive);
  const auto unpacking = cache_ / "incoming" / (sha + ".unpacking");
  fs::remove_all(unpacking);
  unpack_directory(archive, unpacking);
  fs::rename(unpacking, unpacked);
  unpacked_.insert(sha);
  return unpacked;
}

void RegistryMirror::download(const v1::Model& model, const fs::path& archive) {
  const auto started = std::chrono::steady_clock::now();
  const auto part = cache_ / "incoming" / (model.sha256() + ".part");
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kDownloadDeadline);
  v1::DownloadModelRequest request;
  request.set_id(model.id());
  auto reader = stub_->DownloadModel(&context, request);
  v1::ModelArchiveChunk chunk;
  int64_t expected = -1, received = 0;
  std::string problem;
  {
    std::ofstream out(part, std::ios::binary | std::ios::trunc);
    while (problem.empty() && reader->Read(&chunk)) {
      if (chunk.has_header()) {
        expected = chunk.header().archive_bytes();
        if (chunk.header().model().sha256() != model.sha256() || expected < 0 ||
            expected > kMaxArchiveBytes) {
          problem = "the registry offered another archive";
        }
      } else if (expected < 0 || received + static_cast<int64_t>(chunk.data().size()) > expected) {
        problem = "the archive is longer than announced";
      } else {
        out.write(chunk.data().data(), static_cast<std::streamsize>(chunk.data().size()));
        received += static_cast<int64_t>(chunk.data().size());
      }
    }
    if (!problem.empty()) context.TryCancel();
    out.close();
    if (!out) problem = "cannot write the cache";
  }
  const auto status = reader->Finish();
  if (problem.empty() && !status.ok()) problem = status.error_message();
  if (problem.empty() && received != expected) problem = "the archive ended early";
  if (problem.empty() && sha256_file_hex(part) != model.sha256()) {
    problem = "the archive does not match its SHA-256";
  }
  if (!problem.empty()) {
    fs::remove(part);
    spdlog::warn("download of model {} from {}: {}", model.id(), registry_address_, problem);
    throw unavailable(model);
  }
  fs::rename(part, archive);
  spdlog::info("model {} ({}) cached: {} bytes in {:.0f} ms", model.id(), model.name(), received,
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                   .count());
}

std::string RegistryMirror::readiness() const {
  std::lock_guard lock(mutex_);
  if (default_) return "";
  if (!synced_) return "waiting for the registry at " + registry_address_;
  return models_.empty() ? "the registry has no model yet" : "loading the default model";
}

}  // namespace ern::serving
