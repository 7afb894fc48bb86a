#include "serving/model_pool.h"

#include <spdlog/spdlog.h>

#include "common/rpc_error.h"
#include "inference/serving_engine.h"
#include "model/model_dir.h"

namespace ern::serving {

ModelPool::ModelPool(ModelCatalog& catalog, int max_loaded)
    : catalog_(catalog), max_loaded_(static_cast<size_t>(max_loaded)) {}

std::shared_ptr<const ServingModel> ModelPool::load(const v1::Model& model) const {
  const auto started = std::chrono::steady_clock::now();
  auto loaded = load_model_dir(catalog_.directory(model));
  auto serving = std::make_shared<ServingModel>();
  serving->id = model.id();
  serving->name = model.name();
  serving->sha256 = model.sha256();
  serving->image_channels = loaded.architecture.image_channels;
  serving->engine = inference::serving_engine(loaded);
  serving->metrics = std::make_unique<ModelServingSeries>(model.id());
  const auto& metrics = serving_metrics();
  metrics.model_loads.inc();
  metrics.model_load_duration.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  spdlog::info(
      "model {} ({}) loaded for Denoise in {:.0f} ms, computing in {}", model.id(), model.name(),
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count(),
      inference::name_of(serving->engine->precision()));
  return serving;
}

std::shared_ptr<const ServingModel> ModelPool::acquire(
    const std::string& requested, const std::function<void(const v1::Model&)>& check_access) {
  const v1::Model model = catalog_.resolve(requested);
  check_access(model);

  Loading loading;
  std::promise<std::shared_ptr<const ServingModel>> promise;
  bool load_here = false;
  {
    std::lock_guard lock(mutex_);
    auto found = loaded_.find(model.sha256());
    if (found == loaded_.end()) {
      load_here = true;
      found = loaded_.emplace(model.sha256(), Entry{promise.get_future().share(), 0}).first;
      evict_beyond_limit(model.sha256());
    }
    found->second.last_used = ++uses_;
    loading = found->second.model;
    if (requested.empty() && last_default_ != model.id()) {
      if (!last_default_.empty()) serving_metrics().default_model_swaps.inc();
      last_default_ = model.id();
    }
    serving_metrics().loaded_models.set(static_cast<double>(loaded_.size()));
  }
  if (load_here) {
    try {
      promise.set_value(load(model));
    } catch (...) {
      promise.set_exception(std::current_exception());
      serving_metrics().model_load_failures.inc();
      std::lock_guard lock(mutex_);
      loaded_.erase(model.sha256());  // the next request tries again
      serving_metrics().loaded_models.set(static_cast<double>(loaded_.size()));
    }
  }
  try {
    return loading.get();
  } catch (const std::exception& error) {
    // The reason names files of the artifact store: it goes to the log, not to the caller.
    spdlog::error("model {} could not be loaded: {}", model.id(), error.what());
    throw RpcError(grpc::StatusCode::INTERNAL,
                   "model " + model.id() + " could not be loaded (the server log says why)");
  }
}

void ModelPool::evict_beyond_limit(const std::string& keep) {
  while (loaded_.size() > max_loaded_) {
    auto oldest = loaded_.end();
    for (auto it = loaded_.begin(); it != loaded_.end(); ++it) {
      if (it->first == keep) continue;
      if (oldest == loaded_.end() || it->second.last_used < oldest->second.last_used) oldest = it;
    }
    if (oldest == loaded_.end()) return;
    spdlog::info("model archive {} unloaded (least recently used)", oldest->first.substr(0, 12));
    loaded_.erase(oldest);  // requests still holding it finish on it
  }
}

}  // namespace ern::serving
