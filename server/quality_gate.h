#pragma once
// Quality-gated promotion: the coordinator scores every registered model on a configured image
// set (mean PSNR/SSIM at one noise level with a fixed seed), stores the score in the registry, and
// lets a model become the default only if it scores at most `max_psnr_drop_db` below the current
// default. Scoring runs on a background thread, so registering a model never waits for it; models
// registered with `promote: true` are promoted (or refused) as soon as their score is in. Scores
// come from the fused engine Denoise serves with, so they are what applications get.

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "server/artifact_store.h"
#include "server/job_store.h"

namespace ern::server {

struct PromotionConfig {
  std::filesystem::path images;  // clean photographs; empty: no scoring and no gate
  double sigma = 25.0;
  uint64_t seed = 0;
  double max_psnr_drop_db = 0.05;  // versus the current default
  int max_images = 64;             // the set is read whole; a bound on scoring time and memory
};

// The `promotion:` section of the coordinator config; throws std::invalid_argument naming the
// field.
PromotionConfig read_promotion_config(const YAML::Node& node);

class QualityGate {
 public:
  // Throws std::invalid_argument when the configured image folder is empty or too large; a folder
  // that does not exist leaves the gate off (with a warning).
  QualityGate(JobStore& store, ArtifactStore& artifacts, PromotionConfig config);
  ~QualityGate();
  QualityGate(const QualityGate&) = delete;
  QualityGate& operator=(const QualityGate&) = delete;

  bool enabled() const { return !images_.empty(); }
  // Starts the scoring thread (nothing when disabled).
  void start();
  // A model was registered: score it soon.
  void notify();

  // For SetDefaultModel: throws RpcError FAILED_PRECONDITION, naming both scores, when
  // `candidate` may not replace `current`.
  void check(const v1::Model& candidate, const std::optional<v1::Model>& current) const;

  // Scores unscored models and settles pending promotions once; returns how many models it
  // scored. (The thread calls it; tests may too.)
  int run_once();

 private:
  v1::QualityScore score(const v1::Model& model) const;
  void loop();

  JobStore& store_;
  ArtifactStore& artifacts_;
  PromotionConfig config_;
  std::vector<std::filesystem::path> images_;
  std::string image_set_sha256_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool pending_ = true;
  std::thread thread_;
};

}  // namespace ern::server
