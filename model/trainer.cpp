#include "model/trainer.h"

#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "model/training_checkpoint.h"

namespace ern {
namespace {

constexpr double kPi = 3.14159265358979323846;

void require(bool condition, const std::string& message) {
  if (!condition) throw std::invalid_argument(message);
}

}  // namespace

void TrainOptions::validate() const {
  require(iterations >= 1, "iterations: must be >= 1");
  require(batch >= 1 && batch <= 1024, "batch: must be in 1..1024");
  require(patch >= 8 && patch <= 2048, "patch: must be in 8..2048");
  require(learning_rate > 0 && learning_rate < 1, "learning_rate: must be in (0, 1)");
  require(min_learning_rate >= 0 && min_learning_rate <= learning_rate,
          "min_learning_rate: must be in [0, learning_rate]");
  require(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "betas: must be in [0, 1)");
  require(weight_decay >= 0, "weight_decay: must be >= 0");
  require(!sigmas.empty(), "sigma: at least one noise level is needed");
}

nlohmann::json TrainOptions::to_json() const {
  return {{"iterations", iterations},
          {"batch", batch},
          {"patch", patch},
          {"learning_rate", learning_rate},
          {"min_learning_rate", min_learning_rate},
          {"betas", {beta1, beta2}},
          {"weight_decay", weight_decay},
          {"sigmas", sigmas},
          {"seed", seed}};
}

torch::Tensor psnr_loss(const torch::Tensor& prediction, const torch::Tensor& target) {
  const double scale = 10.0 / std::log(10.0);
  auto mse = (prediction - target).pow(2).mean({1, 2, 3});
  return scale * torch::log(mse + 1e-8).mean();
}

double cosine_learning_rate(const TrainOptions& options, int64_t step) {
  const double progress = static_cast<double>(step) / static_cast<double>(options.iterations);
  return options.min_learning_rate + (options.learning_rate - options.min_learning_rate) * 0.5 *
                                         (1.0 + std::cos(kPi * progress));
}

torch::Device parse_device(const std::string& name) {
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const c10::Error&) {
    throw std::invalid_argument("device: expected cpu, cuda or cuda:N, got '" + name + "'");
  }
  if (device.is_cuda()) {
    if (!torch::cuda::is_available()) {
      throw std::invalid_argument("device: '" + name +
                                  "' requested but this LibTorch build or machine has no CUDA");
    }
    if (device.has_index() && device.index() >= static_cast<int>(torch::cuda::device_count())) {
      throw std::invalid_argument("device: '" + name + "' does not exist (" +
                                  std::to_string(torch::cuda::device_count()) + " CUDA devices)");
    }
  }
  return device;
}

Trainer::Trainer(Nafnet network, TrainingData& data, TrainOptions options, torch::Device device,
                 TrainingGang* gang)
    : network_(std::move(network)),
      data_(data),
      options_((options.validate(), std::move(options))),
      device_(device),
      optimizer_((network_->to(device_), network_->parameters()),
                 torch::optim::AdamWOptions(options_.learning_rate)
                     .betas({options_.beta1, options_.beta2})
                     .weight_decay(options_.weight_decay)),
      gang_(gang ? *gang : alone_) {}

void Trainer::run(const std::function<void(const TrainProgress&)>& on_step, int64_t max_steps,
                  int64_t checkpoint_every, const std::filesystem::path& checkpoint_path) {
  network_->train();
  // Members of a gang other than its leader hold the same state and write none.
  const bool writes_checkpoints = !checkpoint_path.empty() && gang_.leader();
  const int64_t stop_at =
      max_steps < 0 ? options_.iterations : std::min(options_.iterations, step_ + max_steps);
  double images_per_second = 0.0;
  while (step_ < stop_at) {
    const auto started = std::chrono::steady_clock::now();
    const double lr = cosine_learning_rate(options_, step_);
    for (auto& group : optimizer_.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
    }
    auto batch = gang_.next_batch(data_, options_.batch, options_.patch);
    optimizer_.zero_grad();
    auto loss = psnr_loss(network_->forward(batch.noisy.to(device_)), batch.clean.to(device_));
    loss.backward();
    gang_.average_gradients(network_->parameters());
    optimizer_.step();
    ++step_;

    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const double rate = options_.batch / std::max(seconds, 1e-9);
    images_per_second = images_per_second == 0.0 ? rate : 0.9 * images_per_second + 0.1 * rate;
    const bool checkpoint_due =
        writes_checkpoints &&
        ((checkpoint_every > 0 && step_ % checkpoint_every == 0) || step_ == options_.iterations);
    if (checkpoint_due) save_checkpoint(checkpoint_path);
    if (on_step) {
      on_step(
          {step_, options_.iterations, loss.item<double>(), lr, images_per_second, checkpoint_due});
    }
  }
  if (writes_checkpoints && step_ != options_.iterations) save_checkpoint(checkpoint_path);
}

void Trainer::save_checkpoint(const std::filesystem::path& path) {
  CheckpointWriter checkpoint;
  checkpoint.add_module("model", *network_);
  checkpoint.add_optimizer("optimizer", optimizer_);
  checkpoint.add_integer("step", step_);
  checkpoint.add_text("options", options_.to_json().dump());
  checkpoint.add_text("data_state", data_.save_state());
  checkpoint.add_random_state();
  checkpoint.write(path);
}

void Trainer::load_checkpoint(const std::filesystem::path& path) {
  const CheckpointReader checkpoint(path);
  const auto saved = nlohmann::json::parse(checkpoint.text("options"), nullptr, false);
  if (!saved.is_object()) throw std::runtime_error(path.string() + ": 'options' is not an object");
  const auto current = options_.to_json();
  for (const auto& [key, value] : current.items()) {
    if (saved.value(key, nlohmann::json()) != value) {
      throw std::runtime_error(path.string() + ": written with " + key + " = " +
                               saved.value(key, nlohmann::json()).dump() + ", this run has " +
                               value.dump());
    }
  }
  const int64_t step = checkpoint.integer("step", 0, options_.iterations);
  checkpoint.load_module("model", *network_);
  checkpoint.load_optimizer("optimizer", optimizer_);
  data_.load_state(checkpoint.text("data_state"));
  checkpoint.restore_random_state();
  step_ = step;
}

}  // namespace ern
