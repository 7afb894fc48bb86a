#include "server/quality_gate.h"

#include <cstdio>

#include <spdlog/spdlog.h>

#include "common/rpc_error.h"
#include "common/sha256.h"
#include "common/yaml_config.h"
#include "inference/openmp_threads.h"
#include "inference/serving_engine.h"
#include "model/dataset.h"
#include "model/model_dir.h"

namespace ern::server {
namespace {

std::string describe_score(const v1::QualityScore& score) {
  char text[96];
  std::snprintf(text, sizeof(text), "%.3f dB PSNR / %.4f SSIM", score.psnr(), score.ssim());
  return text;
}

}  // namespace

PromotionConfig read_promotion_config(const YAML::Node& node) {
  PromotionConfig config;
  if (!node) return config;
  reject_unknown_fields(node, "promotion.",
                        {"images", "sigma", "seed", "max_psnr_drop_db", "max_images"});
  std::string images;
  read_yaml_field(node, "promotion.", "images", images);
  config.images = images;
  read_yaml_field(node, "promotion.", "sigma", config.sigma);
  read_yaml_field(node, "promotion.", "seed", config.seed);
  read_yaml_field(node, "promotion.", "max_psnr_drop_db", config.max_psnr_drop_db);
  read_yaml_field(node, "promotion.", "max_images", config.max_images);
  if (!(config.sigma > 0 && config.sigma <= 255)) {
    throw std::invalid_argument("promotion.sigma: must be in (0, 255]");
  }
  if (!(config.max_psnr_drop_db >= 0 && config.max_psnr_drop_db <= 10)) {
    throw std::invalid_argument("promotion.max_psnr_drop_db: must be in [0, 10]");
  }
  if (config.max_images < 1 || config.max_images > 1000) {
    throw std::invalid_argument("promotion.max_images: must be in 1..1000");
  }
  return config;
}

QualityGate::QualityGate(JobStore& store, ArtifactStore& artifacts, PromotionConfig config)
    : store_(store), artifacts_(artifacts), config_(std::move(config)) {
  if (config_.images.empty()) return;
  if (!std::filesystem::is_directory(config_.images)) {
    // Relative paths are relative to the working directory (as `data:` is); a coordinator started
    // elsewhere keeps serving, ungated, and says so.
    spdlog::warn(
        "promotion.images: {} is not a folder here; models are not scored and set-default is not "
        "gated",
        config_.images.string());
    return;
  }
  try {
    images_ = list_images(config_.images);
  } catch (const std::runtime_error& error) {
    throw std::invalid_argument(std::string("promotion.images: ") + error.what());
  }
  if (static_cast<int>(images_.size()) > config_.max_images) {
    throw std::invalid_argument("promotion.images: " + config_.images.string() + " holds " +
                                std::to_string(images_.size()) + " images, more than max_images " +
                                std::to_string(config_.max_images));
  }
  // Scores taken on another set (other images, sigma or seed) are not comparable.
  std::string identity =
      "sigma " + std::to_string(config_.sigma) + " seed " + std::to_string(config_.seed) + "\n";
  for (const auto& image : images_) {
    identity += image.filename().string() + " " + sha256_file_hex(image) + "\n";
  }
  image_set_sha256_ = sha256_hex(identity);
}

QualityGate::~QualityGate() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void QualityGate::start() {
  if (!enabled()) return;
  spdlog::info("quality gate: {} images from {} at sigma {}, at most {} dB below the default",
               images_.size(), config_.images.string(), config_.sigma, config_.max_psnr_drop_db);
  thread_ = std::thread([this] { loop(); });
}

void QualityGate::notify() {
  {
    std::lock_guard lock(mutex_);
    pending_ = true;
  }
  wake_.notify_all();
}

void QualityGate::check(const v1::Model& candidate, const std::optional<v1::Model>& current) const {
  if (!enabled() || !current) return;
  for (const auto* model : {&candidate, &*current}) {
    if (model->quality().image_set_sha256() != image_set_sha256_) {
      throw RpcError(grpc::StatusCode::FAILED_PRECONDITION,
                     "id: " + model->name() +
                         " has no quality score on the promotion images yet (scoring runs "
                         "after registration); retry shortly, or force it");
    }
  }
  const double drop = current->quality().psnr() - candidate.quality().psnr();
  if (drop > config_.max_psnr_drop_db) {
    char allowed[64];
    std::snprintf(allowed, sizeof(allowed), "%.3f dB below the default (at most %.3f allowed)",
                  drop, config_.max_psnr_drop_db);
    throw RpcError(grpc::StatusCode::FAILED_PRECONDITION,
                   "id: " + candidate.name() + " fails the quality gate: it scores " +
                       describe_score(candidate.quality()) + ", the default " + current->name() +
                       " scores " + describe_score(current->quality()) + " at sigma " +
                       std::to_string(static_cast<int>(config_.sigma)) + ", " + allowed +
                       "; force it to override");
  }
}

v1::QualityScore QualityGate::score(const v1::Model& model) const {
  v1::QualityScore score;
  score.set_sigma(config_.sigma);
  score.set_image_set_sha256(image_set_sha256_);
  try {
    auto loaded = load_model_dir(artifacts_.model_directory(model.sha256()));
    // Scored through the engine (and precision) Denoise serves it with: what applications get.
    const auto engine = inference::serving_engine(loaded);
    const auto result = inference::evaluate_engine(*engine, loaded.architecture.image_channels,
                                                   images_, config_.sigma, config_.seed);
    score.set_psnr(result.network.psnr);
    score.set_ssim(result.network.ssim);
    score.set_images(result.images);
  } catch (const std::exception& error) {
    // Recorded as a zero score: the gate then refuses it against any working default.
    spdlog::error("quality gate: cannot score {}: {}", model.name(), error.what());
  }
  score.set_scored_unix_ms(now_unix_ms());
  return score;
}

int QualityGate::run_once() {
  int scored = 0;
  for (const auto& model : store_.models_to_score(image_set_sha256_)) {
    const auto result = score(model);
    store_.set_quality(model.id(), result);
    spdlog::info("quality gate: {} ({}) scores {}", model.name(), model.id(),
                 describe_score(result));
    ++scored;
  }
  for (const auto& model : store_.pending_promotions()) {
    // Registered after this pass scored: settled on the next pass.
    if (model.quality().image_set_sha256() != image_set_sha256_) continue;
    try {
      store_.set_default_model(
          model.id(), [this](const v1::Model& candidate, const std::optional<v1::Model>& current) {
            check(candidate, current);
          });
      store_.finish_promotion(model.id(), true, "");
      spdlog::info("quality gate: {} promoted to the default model", model.name());
    } catch (const RpcError& refusal) {
      store_.finish_promotion(model.id(), false, refusal.what());
      spdlog::warn("quality gate: {} not promoted: {}", model.name(), refusal.what());
    }
  }
  return scored;
}

void QualityGate::loop() {
  // Background work: one core, so scoring never takes the cores Denoise's forward passes use (and
  // never spins OpenMP threads against a busy core).
  set_openmp_threads_of_this_thread(1);
  while (true) {
    {
      std::unique_lock lock(mutex_);
      // Woken by a registration (notify) or shutdown; nothing changes in between that needs a pass.
      wake_.wait(lock, [this] { return stopping_ || pending_; });
      if (stopping_) return;
      pending_ = false;
    }
    try {
      run_once();
    } catch (const std::exception& error) {
      spdlog::error("quality gate: {}", error.what());
    }
  }
}

}  // namespace ern::server
