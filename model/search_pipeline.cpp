#include "model/search_pipeline.h"

#include <cmath>

#include <spdlog/spdlog.h>

#include "common/atomic_file.h"
#include "model/dataset.h"
#include "model/evaluation.h"
#include "model/latency_table.h"
#include "model/mac_counter.h"
#include "model/model_dir.h"
#include "model/supernet.h"
#include "model/trainer.h"
#include "model/training_checkpoint.h"

namespace ern {
namespace {

namespace fs = std::filesystem;

// A [blocks, alternatives] tensor as rows of numbers (alternatives in spec.alternatives' order).
nlohmann::json matrix_json(const torch::Tensor& matrix) {
  const auto values = matrix.detach().to(torch::kFloat64).contiguous();
  nlohmann::json rows = nlohmann::json::array();
  for (int64_t b = 0; b < values.size(0); ++b) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t j = 0; j < values.size(1); ++j) row.push_back(values[b][j].item<double>());
    rows.push_back(row);
  }
  return rows;
}

// The architecture distribution rounded to 4 decimals: what search reports plot over the steps.
nlohmann::json probabilities_json(const torch::Tensor& probabilities) {
  return matrix_json((probabilities.detach().to(torch::kFloat64) * 1e4).round() / 1e4);
}

// Weights and α of the supernet, with their optimizers and data, checkpointed together.
class SupernetSearch {
 public:
  SupernetSearch(const SearchSpec& spec, const LatencyTable& table, const fs::path& state_path,
                 TrainingGang& gang)
      : spec_(spec),
        table_(table),
        state_path_(state_path),
        gang_(gang),
        supernet_(spec.architecture, spec.alternatives),
        weight_optimizer_(
            supernet_->weight_parameters(),
            torch::optim::AdamWOptions(spec.learning_rate).betas({0.9, 0.9}).weight_decay(0.0)),
        alpha_optimizer_(std::vector<torch::Tensor>{supernet_->alphas()},
                         torch::optim::AdamOptions(spec.alpha_learning_rate)
                             .betas({spec.alpha_beta1, spec.alpha_beta2})) {
    auto images = list_images(spec.data / "train");
    if (images.size() < 2) {
      throw std::invalid_argument(
          "data: " + (spec.data / "train").string() +
          " needs at least 2 images (weights and α train on separate halves)");
    }
    std::vector<fs::path> weight_images, alpha_images;
    for (size_t i = 0; i < images.size(); ++i)
      (i % 2 ? alpha_images : weight_images).push_back(images[i]);
    weight_data_ =
        std::make_unique<SyntheticNoiseData>(weight_images, spec.sigmas, spec.seed, spec.patch);
    alpha_data_ =
        std::make_unique<SyntheticNoiseData>(alpha_images, spec.sigmas, spec.seed + 1, spec.patch);
    lut_ = table_.ms.to(torch::kFloat32);
  }

  Supernet& supernet() { return supernet_; }
  int64_t total_steps() const { return spec_.warmup_steps + spec_.search_steps; }
  bool finished() const { return step_ >= total_steps(); }
  const nlohmann::json& history() const { return history_; }

  void initialize_from(const fs::path& model_dir) {
    auto pretrained = load_model_dir(model_dir);
    if (!(pretrained.architecture == spec_.architecture)) {
      throw std::invalid_argument("init_model: " + model_dir.string() + " is " +
                                  pretrained.architecture.describe() +
                                  ", the spec's architecture is " + spec_.architecture.describe());
    }
    load_named_tensors(*supernet_->network(), named_tensors_of(*pretrained.network),
                       model_dir.string());
  }

  void run(const SearchCallback& on_progress) {
    supernet_->train();
    const int64_t history_every = std::max<int64_t>(1, total_steps() / 400);
    TrainOptions schedule;
    schedule.iterations = total_steps();
    schedule.learning_rate = spec_.learning_rate;
    while (step_ < total_steps()) {
      const bool searching = step_ >= spec_.warmup_steps;
      const double search_fraction = searching ? static_cast<double>(step_ - spec_.warmup_steps) /
                                                     static_cast<double>(spec_.search_steps)
                                               : 0.0;
      // Geometric decay from the start to the end temperature over the search stage.
      const auto annealed = [&](double start, double end) {
        return start * std::pow(end / start, search_fraction);
      };
      supernet_->set_sampling(
          spec_.gumbel, spec_.gumbel
                            ? annealed(spec_.gumbel_temperature_start, spec_.gumbel_temperature_end)
                            : annealed(spec_.temperature_start, spec_.temperature_end));
      supernet_->set_decided(
          spec_.decided_blocks_at(search_fraction, static_cast<int64_t>(supernet_->block_count())));
      for (auto& group : weight_optimizer_.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options())
            .lr(cosine_learning_rate(schedule, step_));
      }
      // Weights: reconstruction on their half of the images.
      auto batch = gang_.next_batch(*weight_data_, spec_.batch, spec_.patch);
      weight_optimizer_.zero_grad();
      auto weight_loss = psnr_loss(supernet_->forward(batch.noisy), batch.clean);
      weight_loss.backward();
      gang_.average_gradients(supernet_->weight_parameters());
      weight_optimizer_.step();

      double loss = weight_loss.item<double>();
      double expected_ms = 0.0, entropy_value = 0.0, lambda_entropy = 0.0;
      if (searching) {
        // α: reconstruction on the held-out half + latency + entropy.
        auto held_out = gang_.next_batch(*alpha_data_, spec_.batch, spec_.patch);
        alpha_optimizer_.zero_grad();
        weight_optimizer_.zero_grad();
        auto reconstruction = psnr_loss(supernet_->forward(held_out.noisy), held_out.clean);
        auto probabilities = supernet_->probabilities();
        auto expected_latency = (probabilities * lut_).sum();
        auto entropy = mean_normalized_entropy(probabilities);
        lambda_entropy = spec_.entropy.weight_at(search_fraction);
        auto alpha_loss = reconstruction +
                          spec_.lambda_latency * expected_latency / table_.baseline_ms +
                          lambda_entropy * entropy;
        alpha_loss.backward();
        gang_.average_gradients({supernet_->alphas()});
        alpha_optimizer_.step();
        loss = alpha_loss.item<double>();
        expected_ms = expected_latency.item<double>();
        entropy_value = entropy.item<double>();
      } else {
        torch::NoGradGuard no_grad;
        auto probabilities = supernet_->probabilities();
        expected_ms = (probabilities * lut_).sum().item<double>();
        entropy_value = mean_normalized_entropy(probabilities).item<double>();
      }
      ++step_;
      if (step_ % history_every == 0 || step_ == total_steps()) {
        history_.push_back({{"step", step_},
                            {"stage", searching ? "SEARCH" : "WARMUP"},
                            {"loss", loss},
                            {"reconstruction_loss", weight_loss.item<double>()},
                            {"expected_latency_ms", expected_ms},
                            {"normalized_entropy", entropy_value},
                            {"lambda_entropy", lambda_entropy},
                            {"probabilities", probabilities_json(supernet_->probabilities())}});
      }
      const bool checkpoint_due =
          gang_.leader() && (step_ % spec_.checkpoint_every == 0 || step_ == total_steps());
      if (checkpoint_due) save();
      if (on_progress) {
        const int64_t in_stage = searching ? step_ - spec_.warmup_steps : step_;
        on_progress({searching ? "SEARCH" : "WARMUP", in_stage,
                     searching ? spec_.search_steps : spec_.warmup_steps, loss, expected_ms,
                     entropy_value, step_, pipeline_total_steps(spec_), checkpoint_due});
      }
    }
    // The distribution the search ended with (what the report's probabilities and entropy show):
    // the plain softmax at its final temperature.
    supernet_->set_sampling(false, spec_.gumbel ? 1.0 : spec_.temperature_end);
    supernet_->set_decided(
        spec_.decided_blocks_at(1.0, static_cast<int64_t>(supernet_->block_count())));
  }

  void save() {
    CheckpointWriter checkpoint;
    checkpoint.add_module("model", *supernet_);
    checkpoint.add_optimizer("weight_optimizer", weight_optimizer_);
    checkpoint.add_optimizer("alpha_optimizer", alpha_optimizer_);
    checkpoint.add_integer("step", step_);
    checkpoint.add_text("spec", spec_.to_json().dump());
    checkpoint.add_text("history", history_.dump());
    checkpoint.add_text("weight_data", weight_data_->save_state());
    checkpoint.add_text("alpha_data", alpha_data_->save_state());
    checkpoint.add_random_state();
    checkpoint.write(state_path_);
  }

  // Returns false when there is no checkpoint yet.
  bool restore() {
    if (!fs::exists(state_path_)) return false;
    const CheckpointReader checkpoint(state_path_);
    if (nlohmann::json::parse(checkpoint.text("spec"), nullptr, false) != spec_.to_json()) {
      throw std::invalid_argument(state_path_.string() +
                                  ": written for another spec; use a new output directory");
    }
    const int64_t step = checkpoint.integer("step", 0, total_steps());
    auto history = nlohmann::json::parse(checkpoint.text("history"), nullptr, false);
    if (!history.is_array()) {
      throw std::runtime_error(state_path_.string() + ": 'history' is not a list");
    }
    checkpoint.load_module("model", *supernet_);
    checkpoint.load_optimizer("weight_optimizer", weight_optimizer_);
    checkpoint.load_optimizer("alpha_optimizer", alpha_optimizer_);
    weight_data_->load_state(checkpoint.text("weight_data"));
    alpha_data_->load_state(checkpoint.text("alpha_data"));
    checkpoint.restore_random_state();
    step_ = step;
    history_ = std::move(history);
    return true;
  }

 private:
  const SearchSpec& spec_;
  const LatencyTable& table_;
  fs::path state_path_;
  TrainingGang& gang_;
  Supernet supernet_;
  torch::optim::AdamW weight_optimizer_;
  torch::optim::Adam alpha_optimizer_;
  std::unique_ptr<SyntheticNoiseData> weight_data_, alpha_data_;
  torch::Tensor lut_;
  int64_t step_ = 0;
  nlohmann::json history_ = nlohmann::json::array();
};

// Fine-tunes `network` (resumably) and saves it as a model directory; a finished directory is
// loaded instead of trained again.
// `first_step` is the job-wide step this fine-tune starts at.
Nafnet finetune(const SearchSpec& spec, Nafnet network, const fs::path& model_dir,
                const fs::path& state_path, const std::string& label, int64_t first_step,
                const nlohmann::json& provenance, const SearchCallback& on_progress,
                TrainingGang& gang) {
  if (fs::exists(model_dir / kModelJson)) return load_model_dir(model_dir).network;
  TrainOptions options;
  options.iterations = spec.finetune_steps;
  options.batch = spec.batch;
  options.patch = spec.patch;
  options.learning_rate = spec.learning_rate;
  options.sigmas = spec.sigmas;
  options.seed = spec.seed + 2;
  SyntheticNoiseData data(spec.data / "train", spec.sigmas, options.seed, spec.patch);
  Trainer trainer(network, data, options, torch::kCPU, &gang);
  if (fs::exists(state_path)) trainer.load_checkpoint(state_path);
  trainer.run(
      [&](const TrainProgress& p) {
        // The last step's checkpoint is reported once the model directory is saved too.
        if (on_progress && p.step < p.total_steps) {
          on_progress({"FINETUNE", p.step, p.total_steps, p.loss, 0.0, 0.0, first_step + p.step,
                       pipeline_total_steps(spec), p.checkpoint_saved});
        }
      },
      -1, spec.checkpoint_every, state_path);
  if (!gang.leader()) return network;
  save_model_dir(model_dir, network, provenance);
  if (on_progress) {
    on_progress({"FINETUNE", spec.finetune_steps, spec.finetune_steps, 0.0, 0.0, 0.0,
                 first_step + spec.finetune_steps, pipeline_total_steps(spec), true});
  }
  spdlog::info("fine-tuned {} network saved in {}", label, model_dir.string());
  return network;
}

// ProfileNetwork on the spec's device; a device with per-block measurements only (a lookup table
// from a phone) answers with the LUT sum over the searchable blocks instead (latency_source "lut",
// no memory figure).
struct LatencyFigure {
  NetworkLatency latency;
  bool measured = true;
};

LatencyFigure measured_latency(const SearchSpec& spec, LatencyOracle& farm,
                               const NafnetArchitecture& architecture, double lut_ms) {
  try {
    return {
        farm.network_latency(spec.device, architecture, spec.latency_height, spec.latency_width),
        true};
  } catch (const NetworkLatencyUnavailable& error) {
    spdlog::warn("{}; reporting the lookup-table latency of the searchable blocks", error.what());
    return {{lut_ms, lut_ms, lut_ms, 0}, false};
  }
}

nlohmann::json describe_network(Nafnet& network, const std::vector<SigmaEvaluation>& quality,
                                const LatencyFigure& figure, double lut_ms) {
  const auto& latency = figure.latency;
  nlohmann::json psnr = nlohmann::json::object(), ssim = nlohmann::json::object();
  for (const auto& result : quality) {
    char key[32];
    std::snprintf(key, sizeof(key), "%g", result.sigma);
    psnr[key] = result.network.psnr;
    ssim[key] = result.network.ssim;
  }
  const auto& architecture = network->architecture();
  const int64_t macs = count_conv_macs(
      *network, [&](const torch::Tensor& x) { return network->forward(x); },
      architecture.image_channels, 256, 256);
  return {{"architecture", architecture.to_json()},
          {"params", count_parameters(*network)},
          {"gmacs_256", static_cast<double>(macs) / 1e9},
          {"latency_ms", latency.median_ms},
          {"latency_p10_ms", latency.p10_ms},
          {"latency_p90_ms", latency.p90_ms},
          {"lut_latency_ms", lut_ms},
          {"latency_source", figure.measured ? "measured" : "lut"},
          {"peak_memory_bytes",
           figure.measured ? nlohmann::json(latency.peak_memory_bytes) : nlohmann::json()},
          {"psnr", psnr},
          {"ssim", ssim}};
}

}  // namespace

int64_t pipeline_total_steps(const SearchSpec& spec) {
  return spec.warmup_steps + spec.search_steps + 2 * spec.finetune_steps;
}

nlohmann::json run_search_pipeline(const SearchSpec& spec, LatencyOracle& farm,
                                   const fs::path& output, const SearchCallback& on_progress,
                                   TrainingGang* member, const ModelEvaluator& evaluate) {
  spec.validate();
  TrainingGang alone;
  TrainingGang& gang = member ? *member : alone;
  if (gang.leader()) farm.check_device(spec.device);
  const auto val_images = list_images(spec.data / "val");
  const fs::path work = output / "work";
  fs::create_directories(work);
  write_file_atomically(work / "spec.json", spec.to_json().dump(2) + "\n");
  torch::manual_seed(spec.seed);

  const auto table = build_latency_table(spec, farm, gang, work / "latency-table.json");
  spdlog::info("latency table: {} blocks x {} alternatives on {}; baseline {:.3f} ms",
               table.ms.size(0), table.ms.size(1), spec.device, table.baseline_ms);

  SupernetSearch search(spec, table, work / "search-state.safetensors", gang);
  if (!search.restore() && !spec.init_model.empty()) search.initialize_from(spec.init_model);
  search.run(on_progress);

  const int64_t searched = spec.warmup_steps + spec.search_steps;
  const int64_t total = pipeline_total_steps(spec);
  if (on_progress) on_progress({"DERIVE", 0, 1, 0.0, 0.0, 0.0, searched, total});
  auto& supernet = search.supernet();
  const auto genotype = supernet->derive_genotype();
  const double final_entropy = mean_normalized_entropy(supernet->probabilities()).item<double>();
  const double expected_ms =
      (supernet->probabilities().to(torch::kFloat64) * table.ms).sum().item<double>();
  const std::vector<BlockAlternative> all_naf(genotype.size(), BlockAlternative::kNaf);
  const nlohmann::json provenance = {
      {"source", "search"}, {"spec", spec.name}, {"device", spec.device}};

  auto derived = finetune(spec, derive_child(supernet, genotype), work / "derived",
                          work / "finetune-derived.safetensors", "derived", searched, provenance,
                          on_progress, gang);
  auto baseline = finetune(spec, derive_child(supernet, all_naf), output / "baseline",
                           work / "finetune-baseline.safetensors", "baseline",
                           searched + spec.finetune_steps, provenance, on_progress, gang);
  if (!gang.leader()) return nlohmann::json::object();  // the leader evaluates and exports

  if (on_progress) on_progress({"EVALUATE", 0, 2, 0.0, 0.0, 0.0, total, total});
  EvaluationOptions evaluation;
  evaluation.sigmas = spec.eval_sigmas;
  evaluation.seed = spec.seed;
  evaluation.classical_reference = false;
  const auto quality = [&](Nafnet& network, const fs::path& model_dir) {
    return evaluate ? evaluate(model_dir, val_images, evaluation)
                    : evaluate_denoiser(network, val_images, evaluation);
  };
  const auto derived_quality = quality(derived, work / "derived");
  const auto baseline_quality = quality(baseline, output / "baseline");
  const double derived_lut_ms = lut_latency(table, spec, genotype);
  const auto derived_latency =
      measured_latency(spec, farm, derived->architecture(), derived_lut_ms);
  const auto baseline_latency =
      measured_latency(spec, farm, baseline->architecture(), table.baseline_ms);

  if (on_progress) on_progress({"EXPORT", 0, 1, 0.0, 0.0, 0.0, total, total});
  nlohmann::json genotype_ids = nlohmann::json::array();
  for (auto alternative : genotype) genotype_ids.push_back(alternative_id(alternative));
  nlohmann::json report = {
      {"name", spec.name},
      {"device", spec.device},
      {"latency_size", {spec.latency_height, spec.latency_width}},
      {"genotype", genotype_ids},
      {"baseline",
       describe_network(baseline, baseline_quality, baseline_latency, table.baseline_ms)},
      {"derived", describe_network(derived, derived_quality, derived_latency, derived_lut_ms)},
      {"search",
       {{"final_normalized_entropy", final_entropy},
        {"expected_latency_ms", expected_ms},
        {"lut_latency_ms_baseline", table.baseline_ms},
        {"latency_table_ms", matrix_json(table.ms)},
        {"history", search.history()}}},
      {"spec", spec.to_json()},
      {"lineage",
       {{"data_sha256", image_folder_digest(spec.data)},
        {"latency_device", spec.device},
        {"latency_table_sha256", table.sha256},
        {"latency_table_rows", table.rows}}},
  };
  report["latency_speedup"] =
      baseline_latency.latency.median_ms / derived_latency.latency.median_ms;
  nlohmann::json psnr_change = nlohmann::json::object();
  for (const auto& [sigma, value] : report["derived"]["psnr"].items()) {
    psnr_change[sigma] = value.get<double>() - report["baseline"]["psnr"][sigma].get<double>();
  }
  report["psnr_change_db"] = psnr_change;

  save_model_dir(output, derived, provenance);
  write_file_atomically(output / "report.json", report.dump(2) + "\n");
  return report;
}

}  // namespace ern
