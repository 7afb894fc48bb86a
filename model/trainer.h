#pragma once
// Supervised denoising training as NAFNet's reference recipe: AdamW (betas 0.9, 0.9), learning rate
// on a cosine from `learning_rate` to `min_learning_rate` over all iterations, PSNR loss.
// Checkpoints hold weights, optimizer moments, step and every random state, so a run stopped and
// resumed produces the same weights as one that never stopped.

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/dataset.h"
#include "model/nafnet.h"
#include "model/training_gang.h"

namespace ern {

struct TrainOptions {
  int64_t iterations = 1000;
  int batch = 8;
  int patch = 64;
  double learning_rate = 1e-3;
  double min_learning_rate = 1e-7;
  double beta1 = 0.9;
  double beta2 = 0.9;
  double weight_decay = 0.0;
  std::vector<double> sigmas{15, 25, 50};
  uint64_t seed = 0;

  // Throws std::invalid_argument naming the field and its allowed range.
  void validate() const;
  nlohmann::json to_json() const;
};

struct TrainProgress {
  int64_t step;  // steps completed
  int64_t total_steps;
  double loss;
  double learning_rate;
  double images_per_second;
  bool checkpoint_saved;  // the checkpoint file now holds this step
};

// 10/ln(10) * mean over the batch of log(MSE + 1e-8): minimizing it maximizes PSNR.
torch::Tensor psnr_loss(const torch::Tensor& prediction, const torch::Tensor& target);

// Cosine annealing from `options.learning_rate` at step 0 to `min_learning_rate` at the end.
double cosine_learning_rate(const TrainOptions& options, int64_t step);

class Trainer {
 public:
  // `gang` (when given): this run is one member of a gang (model/training_gang.h); only its leader
  // writes checkpoints.
  Trainer(Nafnet network, TrainingData& data, TrainOptions options, torch::Device device,
          TrainingGang* gang = nullptr);

  // Trains until `options.iterations` or until `max_steps` more steps (when >= 0), calling
  // `on_step` after each step; writes a checkpoint every `checkpoint_every` steps (when > 0) and
  // at the end to `checkpoint_path` (when not empty).
  void run(const std::function<void(const TrainProgress&)>& on_step, int64_t max_steps = -1,
           int64_t checkpoint_every = 0, const std::filesystem::path& checkpoint_path = {});

  // Atomic (temporary file, then rename).
  void save_checkpoint(const std::filesystem::path& path);
  // Throws std::runtime_error if the checkpoint was written with different training options.
  void load_checkpoint(const std::filesystem::path& path);

  int64_t step() const { return step_; }
  bool finished() const { return step_ >= options_.iterations; }

 private:
  Nafnet network_;
  TrainingData& data_;
  TrainOptions options_;
  torch::Device device_;
  torch::optim::AdamW optimizer_;
  TrainingGang alone_;  // the gang when none is given: a gang of one
  TrainingGang& gang_;
  int64_t step_ = 0;
};

// "cpu", "cuda" or "cuda:N"; throws std::invalid_argument when CUDA is asked for but this LibTorch
// build or machine has none.
torch::Device parse_device(const std::string& name);

}  // namespace ern
