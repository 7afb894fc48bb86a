#pragma once
// An ern-serve replica's copy of the coordinator's model registry: the records it watches
// (ModelService.WatchModels) and the archives it downloads (DownloadModel), cached on local disk
// and verified by SHA-256 each time one is unpacked. While the coordinator is away the replica
// goes on serving what it holds, and it reconnects with backoff. A new default is downloaded and
// loaded before requests are sent to it, so a change of default fails no request.
//
//   <cache>/archives/<sha256>.ernar   verified archives, kept across restarts
//   <cache>/models/<sha256>/          unpacked for this run (cleared at start)
//   <cache>/incoming/                 downloads in progress (cleared at start)

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "ern/v1/models.grpc.pb.h"
#include "serving/model_catalog.h"

namespace ern::serving {

class RegistryMirror final : public ModelCatalog {
 public:
  // `prepare`: loads a model about to become the default (the Denoise engine's pool), throwing if
  // it cannot; the default switches only after it returned.
  RegistryMirror(std::shared_ptr<grpc::Channel> registry, std::string registry_address,
                 std::filesystem::path cache, std::function<void(const v1::Model&)> prepare);
  ~RegistryMirror() override;  // stop()s

  // Watches the registry from now on (in a thread of its own) until stop().
  void start();
  void stop();

  v1::Model resolve(const std::string& requested) override;
  // Downloads the model when it is not cached yet (UNAVAILABLE when the coordinator is away).
  std::filesystem::path directory(const v1::Model& model) override;

  // Empty when ready (the default model loaded), else why not.
  std::string readiness() const;

 private:
  void watch();
  void apply(const v1::RegistrySnapshot& snapshot);
  void download(const v1::Model& model, const std::filesystem::path& archive);
  // Sleeps up to `delay`; false when the mirror is stopping.
  bool pause(std::chrono::milliseconds delay);

  std::unique_ptr<v1::ModelService::Stub> stub_;
  const std::string registry_address_;
  const std::filesystem::path cache_;
  const std::function<void(const v1::Model&)> prepare_;

  mutable std::mutex mutex_;                 // the records below
  std::map<std::string, v1::Model> models_;  // by id, from the latest snapshot
  std::optional<v1::Model> default_;         // the default requests are sent to
  bool synced_ = false;                      // a snapshot arrived at least once

  std::mutex fetch_mutex_;  // one download or unpacking at a time
  std::set<std::string> unpacked_;

  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;
  std::condition_variable stop_signal_;
  grpc::ClientContext* watch_context_ = nullptr;  // with stop_mutex_ held
  std::thread watcher_;
};

}  // namespace ern::serving
