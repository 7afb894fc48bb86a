#include "model/search_spec.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <regex>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include "common/yaml_config.h"

namespace ern {
namespace {

void require(bool condition, const std::string& field, const std::string& rule) {
  if (!condition) throw std::invalid_argument(field + ": " + rule);
}

bool finite_non_negative(double value) { return std::isfinite(value) && value >= 0; }

// Spec names become job names, model names and file names.
bool is_name(const std::string& name) {
  static const std::regex kName("[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}");
  return std::regex_match(name, kName);
}

// Any stage longer than this is a mistake, and sums of stages stay far from overflow.
constexpr int64_t kMaxStageSteps = 100'000'000;
// Pixels of one training step (batch x patch²): a paper-scale step is 8 x 256² = 0.5 MP.
constexpr int64_t kMaxStepPixels = int64_t{1} << 24;
// A spec is a page of YAML; 64 KiB leaves room for comments.
constexpr size_t kMaxSpecBytes = 64 << 10;
// What one supernet training step may keep for backward (estimated from the architecture): a
// search asking for more would take a worker, or an embedded coordinator, down with it. The
// bound leaves room for the largest worker planned (a 141 GB GPU, configs/search/nafnet-sidd.yaml
// is estimated at 57 GiB) and refuses the absurd.
constexpr double kMaxStepActivationBytes = 128.0 * (1 << 30);

}  // namespace

double EntropySchedule::weight_at(double fraction) const {
  if (fraction <= start) return 0.0;
  if (fraction < end) return max_weight * (fraction - start) / (end - start);
  const double last = final_weight < 0 ? max_weight : final_weight;
  if (end >= 1.0 || max_weight <= 0.0 || last == max_weight) return max_weight;
  const double rise = std::min(1.0, (fraction - end) / (1.0 - end));
  return max_weight * std::pow(last / max_weight, rise);
}

void SearchSpec::validate() const {
  require(is_name(name), "name",
          "must be 1..64 characters of A-Z a-z 0-9 . _ -, not starting with a dot");
  require(!device.empty(), "device", "must name a device of the farm");
  try {
    architecture.validate();
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(std::string("architecture.") + error.what());
  }
  require(architecture.genotype.empty(), "architecture.genotype", "the supernet skeleton has none");
  require(!alternatives.empty(), "alternatives", "at least one alternative is needed");
  require(std::set<BlockAlternative>(alternatives.begin(), alternatives.end()).size() ==
              alternatives.size(),
          "alternatives", "each alternative may appear once");
  require(batch >= 1 && batch <= 1024, "training.batch", "must be in 1..1024");
  require(workers >= 1 && workers <= 64, "training.workers", "must be in 1..64");
  require(min_workers >= 1 && min_workers <= workers, "training.min_workers",
          "must be in 1..training.workers");
  require(patch >= 16 && patch <= 2048 && patch % architecture.size_multiple() == 0,
          "training.patch",
          "must be in 16..2048 and a multiple of " + std::to_string(architecture.size_multiple()));
  require(!sigmas.empty(), "training.sigmas", "at least one noise level is needed");
  for (double sigma : sigmas)
    require(sigma >= 0 && sigma <= 255, "training.sigmas", "each must be in 0..255");
  require(std::isfinite(learning_rate) && learning_rate > 0 && learning_rate < 1,
          "training.learning_rate", "must be in (0, 1)");
  require(static_cast<int64_t>(batch) * patch * patch <= kMaxStepPixels, "training",
          "batch x patch² must be at most " + std::to_string(kMaxStepPixels) + " pixels");
  const int paths = static_cast<int>(
      std::count_if(alternatives.begin(), alternatives.end(),
                    [](BlockAlternative a) { return a != BlockAlternative::kSkip; }));
  const double step_bytes =
      4.0 * batch * patch * patch * architecture.activation_floats_per_pixel(std::max(paths, 1));
  char estimate[160];
  std::snprintf(estimate, sizeof(estimate),
                "batch x patch² x the supernet would keep an estimated %.1f GiB per step; at "
                "most %.0f GiB",
                step_bytes / (1 << 30), kMaxStepActivationBytes / (1 << 30));
  require(step_bytes <= kMaxStepActivationBytes, "training", estimate);
  const std::string step_range = "must be in 1.." + std::to_string(kMaxStageSteps);
  require(warmup_steps >= 0 && warmup_steps <= kMaxStageSteps, "stages.warmup_steps",
          "must be in 0.." + std::to_string(kMaxStageSteps));
  require(search_steps >= 1 && search_steps <= kMaxStageSteps, "stages.search_steps", step_range);
  require(finetune_steps >= 1 && finetune_steps <= kMaxStageSteps, "stages.finetune_steps",
          step_range);
  require(checkpoint_every >= 1, "stages.checkpoint_every", "must be >= 1");
  require(std::isfinite(alpha_learning_rate) && alpha_learning_rate > 0,
          "search.alpha_learning_rate", "must be finite and > 0");
  require(alpha_beta1 >= 0 && alpha_beta1 < 1 && alpha_beta2 >= 0 && alpha_beta2 < 1,
          "search.alpha_betas", "each must be in [0, 1)");
  require(finite_non_negative(lambda_latency), "search.lambda_latency", "must be finite and >= 0");
  require(finite_non_negative(entropy.max_weight), "search.lambda_entropy.max",
          "must be finite and >= 0");
  require(entropy.final_weight < 0 ||
              (std::isfinite(entropy.final_weight) && entropy.final_weight >= entropy.max_weight),
          "search.lambda_entropy.final", "must be finite and >= max");
  require(entropy.start >= 0 && entropy.start < entropy.end && entropy.end <= 1,
          "search.lambda_entropy", "needs 0 <= start < end <= 1");
  require(gumbel_temperature_start > 0 && gumbel_temperature_end > 0 &&
              std::isfinite(gumbel_temperature_start) && std::isfinite(gumbel_temperature_end),
          "search.gumbel", "temperatures must be finite and > 0");
  require(temperature_start > 0 && temperature_end > 0 && temperature_start <= 100 &&
              temperature_end <= 100 && temperature_end >= 1e-3,
          "search.temperature", "start and end must be in 0.001..100");
  require(decide_from > 0 && decide_from <= 1, "search.decide_from", "must be in (0, 1]");
  require(!gumbel || (temperature_start == 1.0 && temperature_end == 1.0), "search.temperature",
          "applies to the plain softmax; with gumbel.enabled use gumbel's temperatures");
  require(
      latency_height > 0 && latency_width > 0 && latency_height <= 8192 && latency_width <= 8192,
      "latency.size", "height and width must be in 1..8192");
  require(!eval_sigmas.empty(), "evaluation.sigmas", "at least one noise level is needed");
  for (double sigma : eval_sigmas)
    require(sigma >= 0 && sigma <= 255, "evaluation.sigmas", "each must be in 0..255");
}

int64_t SearchSpec::decided_blocks_at(double search_fraction, int64_t blocks) const {
  if (decide_from >= 1 || search_fraction < decide_from) return 0;
  const double share = (search_fraction - decide_from) / (1.0 - decide_from);
  return std::min(blocks, static_cast<int64_t>(std::ceil(share * static_cast<double>(blocks))));
}

nlohmann::json SearchSpec::to_json() const {
  std::vector<std::string> alternative_ids;
  for (auto alternative : alternatives) alternative_ids.push_back(alternative_id(alternative));
  nlohmann::json json = {
      {"name", name},
      {"device", device},
      {"data", data.string()},
      {"init_model", init_model.string()},
      {"promote", promote},
      {"architecture", architecture.to_json()},
      {"alternatives", alternative_ids},
      {"training",
       {{"batch", batch},
        {"patch", patch},
        {"sigmas", sigmas},
        {"learning_rate", learning_rate},
        {"seed", seed}}},
      {"stages",
       {{"warmup_steps", warmup_steps},
        {"search_steps", search_steps},
        {"finetune_steps", finetune_steps},
        {"checkpoint_every", checkpoint_every}}},
      {"search",
       {{"alpha_learning_rate", alpha_learning_rate},
        {"alpha_betas", {alpha_beta1, alpha_beta2}},
        {"lambda_latency", lambda_latency},
        {"lambda_entropy",
         {{"max", entropy.max_weight},
          {"start", entropy.start},
          {"end", entropy.end},
          {"final", entropy.final_weight < 0 ? entropy.max_weight : entropy.final_weight}}},
        {"temperature", {{"start", temperature_start}, {"end", temperature_end}}},
        {"gumbel",
         {{"enabled", gumbel},
          {"temperature_start", gumbel_temperature_start},
          {"temperature_end", gumbel_temperature_end}}}}},
      {"latency", {{"size", {latency_height, latency_width}}}},
      {"evaluation", {{"sigmas", eval_sigmas}}}};
  // Decisions only when asked for, so specs without them read as they always have (checkpoints
  // name the spec they were written for).
  if (decide_from < 1) json["search"]["decide_from"] = decide_from;
  // A gang only when there is one, so single-worker specs read as they always have (their
  // checkpoints name the spec they were written for).
  if (workers > 1) {
    json["training"]["workers"] = workers;
    json["training"]["min_workers"] = min_workers;
  }
  return json;
}

namespace {

SearchSpec spec_from_yaml(const YAML::Node& root) {
  SearchSpec spec;
  reject_unknown_fields(root, "",
                        {"name", "device", "data", "init_model", "promote", "architecture",
                         "alternatives", "training", "stages", "search", "latency", "evaluation"});
  read_yaml_field(root, "", "name", spec.name);
  read_yaml_field(root, "", "device", spec.device);
  read_yaml_field(root, "", "promote", spec.promote);
  std::string data = spec.data.string(), init_model;
  read_yaml_field(root, "", "data", data);
  spec.data = data;
  if (root["init_model"] && !root["init_model"].IsNull()) {
    read_yaml_field(root, "", "init_model", init_model);
    spec.init_model = init_model;
  }
  if (const auto arch = root["architecture"]) {
    reject_unknown_fields(
        arch, "architecture.",
        {"width", "encoder_blocks", "middle_blocks", "decoder_blocks", "image_channels"});
    read_yaml_field(arch, "architecture.", "width", spec.architecture.width);
    read_yaml_field(arch, "architecture.", "encoder_blocks", spec.architecture.encoder_blocks);
    read_yaml_field(arch, "architecture.", "middle_blocks", spec.architecture.middle_blocks);
    read_yaml_field(arch, "architecture.", "decoder_blocks", spec.architecture.decoder_blocks);
    read_yaml_field(arch, "architecture.", "image_channels", spec.architecture.image_channels);
  }
  if (root["alternatives"]) {
    std::vector<std::string> ids;
    read_yaml_field(root, "", "alternatives", ids);
    spec.alternatives.clear();
    for (const auto& id : ids) {
      try {
        spec.alternatives.push_back(parse_alternative(id));
      } catch (const std::invalid_argument& error) {
        throw std::invalid_argument(std::string("alternatives: ") + error.what());
      }
    }
  }
  if (const auto training = root["training"]) {
    reject_unknown_fields(
        training, "training.",
        {"batch", "patch", "sigmas", "learning_rate", "seed", "workers", "min_workers"});
    read_yaml_field(training, "training.", "batch", spec.batch);
    read_yaml_field(training, "training.", "patch", spec.patch);
    read_yaml_field(training, "training.", "sigmas", spec.sigmas);
    read_yaml_field(training, "training.", "learning_rate", spec.learning_rate);
    read_yaml_field(training, "training.", "seed", spec.seed);
    read_yaml_field(training, "training.", "workers", spec.workers);
    spec.min_workers = spec.workers;
    read_yaml_field(training, "training.", "min_workers", spec.min_workers);
  }
  if (const auto stages = root["stages"]) {
    reject_unknown_fields(stages, "stages.",
                          {"warmup_steps", "search_steps", "finetune_steps", "checkpoint_every"});
    read_yaml_field(stages, "stages.", "warmup_steps", spec.warmup_steps);
    read_yaml_field(stages, "stages.", "search_steps", spec.search_steps);
    read_yaml_field(stages, "stages.", "finetune_steps", spec.finetune_steps);
    read_yaml_field(stages, "stages.", "checkpoint_every", spec.checkpoint_every);
  }
  if (const auto search = root["search"]) {
    reject_unknown_fields(search, "search.",
                          {"alpha_learning_rate", "alpha_betas", "lambda_latency", "lambda_entropy",
                           "temperature", "gumbel", "decide_from"});
    read_yaml_field(search, "search.", "alpha_learning_rate", spec.alpha_learning_rate);
    std::vector<double> betas{spec.alpha_beta1, spec.alpha_beta2};
    read_yaml_field(search, "search.", "alpha_betas", betas);
    require(betas.size() == 2, "search.alpha_betas", "expected two numbers");
    spec.alpha_beta1 = betas[0];
    spec.alpha_beta2 = betas[1];
    read_yaml_field(search, "search.", "lambda_latency", spec.lambda_latency);
    read_yaml_field(search, "search.", "decide_from", spec.decide_from);
    if (const auto entropy = search["lambda_entropy"]) {
      reject_unknown_fields(entropy, "search.lambda_entropy.", {"max", "start", "end", "final"});
      read_yaml_field(entropy, "search.lambda_entropy.", "max", spec.entropy.max_weight);
      read_yaml_field(entropy, "search.lambda_entropy.", "start", spec.entropy.start);
      read_yaml_field(entropy, "search.lambda_entropy.", "end", spec.entropy.end);
      read_yaml_field(entropy, "search.lambda_entropy.", "final", spec.entropy.final_weight);
    }
    if (const auto temperature = search["temperature"]) {
      reject_unknown_fields(temperature, "search.temperature.", {"start", "end"});
      read_yaml_field(temperature, "search.temperature.", "start", spec.temperature_start);
      read_yaml_field(temperature, "search.temperature.", "end", spec.temperature_end);
    }
    if (const auto gumbel = search["gumbel"]) {
      reject_unknown_fields(gumbel, "search.gumbel.",
                            {"enabled", "temperature_start", "temperature_end"});
      read_yaml_field(gumbel, "search.gumbel.", "enabled", spec.gumbel);
      read_yaml_field(gumbel, "search.gumbel.", "temperature_start", spec.gumbel_temperature_start);
      read_yaml_field(gumbel, "search.gumbel.", "temperature_end", spec.gumbel_temperature_end);
    }
  }
  if (const auto latency = root["latency"]) {
    reject_unknown_fields(latency, "latency.", {"size"});
    std::vector<int> size{spec.latency_height, spec.latency_width};
    read_yaml_field(latency, "latency.", "size", size);
    require(size.size() == 2, "latency.size", "expected [height, width]");
    spec.latency_height = size[0];
    spec.latency_width = size[1];
  }
  if (const auto evaluation = root["evaluation"]) {
    reject_unknown_fields(evaluation, "evaluation.", {"sigmas"});
    read_yaml_field(evaluation, "evaluation.", "sigmas", spec.eval_sigmas);
  }
  spec.validate();
  return spec;
}

}  // namespace

SearchSpec load_search_spec(const std::filesystem::path& yaml_file) {
  std::error_code error_code;
  const auto bytes = std::filesystem::file_size(yaml_file, error_code);
  if (!error_code && bytes > kMaxSpecBytes) {
    throw std::invalid_argument(yaml_file.string() + ": " + std::to_string(bytes) +
                                " bytes; a spec may have at most " + std::to_string(kMaxSpecBytes));
  }
  const YAML::Node root = load_yaml_file(yaml_file);
  try {
    return spec_from_yaml(root);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(yaml_file.string() + ": " + error.what());
  }
}

SearchSpec parse_search_spec(const std::string& yaml_text) {
  // Before the parser sees it: YAML expands far beyond its text (a 57 MB spec took 7 GB).
  if (yaml_text.size() > kMaxSpecBytes) {
    throw std::invalid_argument(std::to_string(yaml_text.size()) +
                                " bytes; a spec may have at most " + std::to_string(kMaxSpecBytes));
  }
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& error) {
    throw std::invalid_argument(std::string("not valid YAML: ") + error.what());
  }
  if (!root.IsMap()) throw std::invalid_argument("expected a mapping of spec fields");
  try {
    return spec_from_yaml(root);
  } catch (const YAML::Exception& error) {  // a conversion no field reader anticipated
    throw std::invalid_argument(std::string("not a valid spec: ") + error.what());
  }
}

}  // namespace ern
