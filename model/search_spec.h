#pragma once
// A search job's specification (YAML, e.g. configs/search/demo.yaml). Every field is checked with a
// message that names it.

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "model/architecture.h"

namespace ern {

// λ_ent over the search stage: 0 until `start`, a linear ramp to `max_weight` at `end`, then a
// geometric rise to `final_weight` at the end of the search. The ramp lets α explore first; the
// rise decides every block, including near-ties (where the entropy's gradient vanishes by
// symmetry and run-to-run latency noise would otherwise leave a block undecided).
struct EntropySchedule {
  double max_weight = 0.5;  // λ_ent once ramped up
  double start = 0.25;  // fraction of the search stage where the ramp begins (λ_ent = 0 before)
  double end = 0.75;    // fraction where it reaches max_weight
  double final_weight = -1;  // λ_ent at the end of the search; < 0: max_weight (no rise)

  double weight_at(double search_fraction) const;
};

struct SearchSpec {
  std::string name = "search";
  std::string device = "cpu-1t";
  std::filesystem::path data = "data/images";  // train/ and val/
  std::filesystem::path init_model;            // optional pretrained NAFNet model directory
  bool promote = false;  // on the coordinator: make the result the default if it passes the gate
  NafnetArchitecture architecture;  // the supernet's skeleton (plain NAFNet)
  std::vector<BlockAlternative> alternatives = all_alternatives();

  // Training of weights (warm-up, search, fine-tune) on synthetic noise.
  int batch = 8;  // per worker: a gang of N workers trains on N x batch images per step
  int patch = 64;
  int workers = 1;      // the gang a job is leased to, all at once (c10d between them)
  int min_workers = 1;  // a resumed job may run on as few as this many
  std::vector<double> sigmas{15, 25, 50};
  double learning_rate = 1e-3;
  uint64_t seed = 0;
  int64_t warmup_steps = 200;
  int64_t search_steps = 400;
  int64_t finetune_steps = 300;
  int64_t checkpoint_every = 50;

  // Architecture parameters (DARTS-style Adam on a held-out half of the training images).
  double alpha_learning_rate = 3e-4;
  double alpha_beta1 = 0.5;
  double alpha_beta2 = 0.999;
  double lambda_latency = 0.5;
  EntropySchedule entropy;
  bool gumbel = false;
  double gumbel_temperature_start = 5.0;
  double gumbel_temperature_end = 0.5;
  // The plain softmax's temperature, p = softmax(α/τ), annealed geometrically over the search
  // stage: as τ falls the supernet's mix of alternatives becomes the derived network's choice, so
  // every block ends decided whatever small differences (latency noise) separate its α. 1 to 1:
  // no annealing.
  double temperature_start = 1.0;
  double temperature_end = 1.0;
  // Sequential decisions (SGAS, Li et al. 2020): from this fraction of the search stage on, blocks
  // are fixed to their argmax one at a time, the most certain first, until every block is fixed at
  // the last step. A fixed block's mix is one-hot, so the search ends decided even where the
  // reconstruction and latency terms hold a block in a tie the entropy's gradient cannot break.
  // 1: no decisions before the search ends.
  double decide_from = 1.0;

  // How many blocks are fixed at `search_fraction` of the search stage (0 before decide_from).
  int64_t decided_blocks_at(double search_fraction, int64_t blocks) const;

  // Where latency and quality are measured.
  int latency_height = 256;
  int latency_width = 256;
  std::vector<double> eval_sigmas{15, 25, 50};

  void validate() const;  // throws std::invalid_argument naming the field
  nlohmann::json to_json() const;
};

// Relative paths in the file are taken from the working directory.
SearchSpec load_search_spec(const std::filesystem::path& yaml_file);
// The same from YAML text (a submitted job); errors name the field without a file.
SearchSpec parse_search_spec(const std::string& yaml_text);

}  // namespace ern
