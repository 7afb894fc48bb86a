#pragma once
// The whole hardware-aware search as one call: warm-up (weights only) → search (weights and α on
// separate halves of the training images; α's loss adds λ_lat·E[lat]/lat_ref and λ_ent(t)·mean
// normalized entropy) → derive (argmax genotype, weights inherited) → fine-tune the child and, for
// a fair baseline, the all-`naf` child alike → evaluate both on the val split → measure both on
// the device farm → export the derived model directory with report.json.
//
// Resumable: rerun with the same spec and output directory and it continues from the last
// checkpoint (search state every `checkpoint_every` steps, fine-tunes likewise, finished
// networks are kept).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "model/evaluation.h"
#include "model/latency_oracle.h"
#include "model/search_spec.h"
#include "model/training_gang.h"

namespace ern {

struct SearchProgress {
  std::string stage;  // WARMUP, SEARCH, DERIVE, FINETUNE, EVALUATE, EXPORT
  int64_t step = 0;   // within the stage
  int64_t total_steps = 0;
  double loss = 0.0;
  double expected_latency_ms = 0.0;  // E[lat] over searchable blocks (LUT)
  double normalized_entropy = 0.0;
  // Job-wide training step: warm-up, search, then the derived and the baseline fine-tunes.
  int64_t overall_step = 0;
  int64_t overall_total_steps = 0;
  // The output directory's checkpoint files now hold `overall_step` (a restart resumes there).
  bool checkpoint_saved = false;
};

// Training steps of the whole pipeline (the range of SearchProgress::overall_step).
int64_t pipeline_total_steps(const SearchSpec& spec);

using SearchCallback = std::function<void(const SearchProgress&)>;

// How the pipeline scores the networks it made (saved as model directories): mean PSNR/SSIM per
// sigma on `images`. Empty: LibTorch's forward pass. The worker and ernctl pass the fused serving
// engine's (inference/serving_engine.h), several times faster on whole photographs.
using ModelEvaluator = std::function<std::vector<SigmaEvaluation>(
    const std::filesystem::path& model_dir, const std::vector<std::filesystem::path>& images,
    const EvaluationOptions& options)>;

// Returns report.json's content (also written to `output`/report.json).
// With a `gang` of several members every member runs this with the same spec and checkpoint: they
// train together (gradients averaged every step, each on its slice of the global batch); the
// leader alone asks the farm (the others receive its lookup table), writes checkpoints, evaluates
// and exports. The others return an empty object once training is done.
nlohmann::json run_search_pipeline(const SearchSpec& spec, LatencyOracle& farm,
                                   const std::filesystem::path& output,
                                   const SearchCallback& on_progress, TrainingGang* gang = nullptr,
                                   const ModelEvaluator& evaluate = {});

}  // namespace ern
