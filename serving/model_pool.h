#pragma once
// Registered models in memory for Denoise. A request takes a shared reference to the model it
// resolved (named, or the default at that moment), so a new default or an evicted model never
// disturbs a request in flight: it finishes on the model it started with.

#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "inference/fused_nafnet.h"
#include "serving/model_catalog.h"
#include "serving/serving_metrics.h"

namespace ern::serving {

struct ServingModel {
  std::string id;
  std::string name;
  std::string sha256;
  int image_channels = 3;
  // The fused forward pass of the folded network (thread-safe, so it runs on a shared const
  // model).
  std::unique_ptr<inference::FusedNafnet> engine;
  std::unique_ptr<ModelServingSeries> metrics;
};

class ModelPool {
 public:
  ModelPool(ModelCatalog& catalog, int max_loaded);

  // `requested`: a model id or name, or empty for the default model. NOT_FOUND for an unknown
  // model, FAILED_PRECONDITION when none is named and there is no default. A model's first use
  // loads it once; requests for other models go on meanwhile. `check_access` sees the resolved
  // record first and refuses by throwing.
  std::shared_ptr<const ServingModel> acquire(
      const std::string& requested, const std::function<void(const v1::Model&)>& check_access);

 private:
  using Loading = std::shared_future<std::shared_ptr<const ServingModel>>;
  struct Entry {
    Loading model;
    uint64_t last_used = 0;
  };
  std::shared_ptr<const ServingModel> load(const v1::Model& model) const;
  void evict_beyond_limit(const std::string& keep);  // with mutex_ held

  ModelCatalog& catalog_;
  const size_t max_loaded_;
  std::mutex mutex_;
  std::map<std::string, Entry> loaded_;  // by archive sha256
  uint64_t uses_ = 0;
  std::string last_default_;  // the default model the last unnamed request resolved to
};

}  // namespace ern::serving
