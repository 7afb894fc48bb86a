// ernctl train: fine-tunes or trains a model directory on a folder of images.

#include <chrono>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "client/arguments.h"
#include "client/commands.h"
#include "client/progress_bar.h"
#include "model/evaluation.h"
#include "model/model_dir.h"
#include "model/train_config.h"
#include "model/trainer.h"
#include "model/validation_curve.h"

namespace ern::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUsage =
    "ernctl train --model DIR --data data/images --iters N --patch P --batch B -o DIR2 "
    "[--config configs/train/demo.yaml] [--lr 1e-3] [--sigma 15,25,50] [--seed 0] "
    "[--device cpu|cuda:N] [--checkpoint-every K] [--resume] [--val DIR] [--val-every K] "
    "[--val-sigma 25]";

// data/images has train/ and val/; a folder without train/ is used as it is.
fs::path training_folder(const fs::path& data) {
  return fs::is_directory(data / "train") ? data / "train" : data;
}

// --val, else data/images/val beside train/, else none.
fs::path validation_folder(const Arguments& args, const fs::path& data) {
  if (args.has("val")) return args.required("val");
  return fs::is_directory(data / "train") && fs::is_directory(data / "val") ? data / "val"
                                                                            : fs::path();
}

}  // namespace

int train(const Args& raw) {
  Arguments args(
      raw,
      {"model", "data", "iters", "patch", "batch", "o", "lr", "min-lr", "sigma", "seed", "device",
       "checkpoint-every", "weight-decay", "config", "val", "val-every", "val-sigma"},
      {"resume"});
  args.expect_positionals(0, kUsage);
  const fs::path model_dir = args.required("model");
  const fs::path data_dir = training_folder(args.required("data"));
  const fs::path val_dir = validation_folder(args, args.required("data"));
  const fs::path output = args.required("o");

  // YAML first (when given), then flags on top.
  TrainOptions options =
      args.has("config") ? load_train_options(args.required("config")) : TrainOptions();
  options.iterations = args.integer_or("iters", options.iterations, 1, 100'000'000);
  options.patch = static_cast<int>(args.integer_or("patch", options.patch, 8, 2048));
  options.batch = static_cast<int>(args.integer_or("batch", options.batch, 1, 1024));
  options.learning_rate = args.number_or("lr", options.learning_rate, 1e-8, 1.0);
  options.min_learning_rate =
      args.number_or("min-lr", options.min_learning_rate, 0.0, options.learning_rate);
  options.weight_decay = args.number_or("weight-decay", options.weight_decay, 0.0, 1.0);
  options.sigmas = args.numbers_or("sigma", options.sigmas);
  options.seed = static_cast<uint64_t>(args.integer_or("seed", static_cast<long long>(options.seed),
                                                       0, std::numeric_limits<long long>::max()));
  const int64_t checkpoint_every = args.integer_or("checkpoint-every", 500, 0, 100'000'000);
  const int64_t val_every = args.integer_or("val-every", checkpoint_every, 0, 100'000'000);
  const double val_sigma = args.number_or("val-sigma", 25.0, 0.0, 255.0);
  const auto device = parse_device(args.value_or("device", "cpu"));
  options.validate();
  const auto val_images = val_dir.empty() ? std::vector<fs::path>() : list_images(val_dir);

  auto model = load_model_dir(model_dir);
  auto data = open_training_data(data_dir, options.sigmas, options.seed, options.patch);
  torch::manual_seed(options.seed);
  Trainer trainer(model.network, *data, options, device);

  fs::create_directories(output);
  const fs::path checkpoint = output / "train-state.safetensors";
  if (args.has("resume") && fs::exists(checkpoint)) {
    trainer.load_checkpoint(checkpoint);
    spdlog::info("resumed from {} at step {}", checkpoint.string(), trainer.step());
  }
  spdlog::info("training {} on {} images from {} ({})", model.architecture.describe(), data->size(),
               data_dir.string(), device.str());

  // Every `val_every` steps: PSNR/SSIM on the val photographs at one sigma (whole images, fixed
  // noise), a row of val-curve.tsv, and the weights so far as a model directory in `output`.
  ValidationCurve curve(output / "val-curve.tsv", trainer.step());
  const auto started = std::chrono::steady_clock::now();
  const nlohmann::json provenance = {{"source", "train"},
                                     {"base_model", fs::absolute(model_dir).string()},
                                     {"data", fs::absolute(data_dir).string()},
                                     {"options", options.to_json()}};
  auto validate = [&](int64_t step) {
    EvaluationOptions evaluation;
    evaluation.sigmas = {val_sigma};
    evaluation.classical_reference = false;
    const auto scores = evaluate_denoiser(model.network, val_images, evaluation).front().network;
    model.network->train();
    const double wall =
        curve.wall_seconds_before() +
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    curve.append({step, scores.psnr, scores.ssim, wall});
    auto snapshot = provenance;
    snapshot["steps"] = step;
    snapshot["val"] = {{"sigma", val_sigma}, {"psnr", scores.psnr}, {"ssim", scores.ssim}};
    save_model_dir(output, model.network, snapshot);
    spdlog::info("step {}: val PSNR {:.3f} dB, SSIM {:.4f} at sigma {}", step, scores.psnr,
                 scores.ssim, val_sigma);
  };

  ProgressBar progress(options.iterations);
  double last_loss = 0.0;
  trainer.run(
      [&](const TrainProgress& step) {
        last_loss = step.loss;
        if (!val_images.empty() && val_every > 0 &&
            (step.step % val_every == 0 || step.step == step.total_steps)) {
          validate(step.step);
        }
        char detail[128];
        std::snprintf(detail, sizeof(detail), "loss %.3f lr %.2e %.1f img/s", step.loss,
                      step.learning_rate, step.images_per_second);
        progress.update(step.step, detail);
      },
      -1, checkpoint_every, checkpoint);
  progress.finish();

  model.network->to(torch::kCPU);
  auto final_provenance = provenance;
  final_provenance["steps"] = trainer.step();
  final_provenance["final_loss"] = last_loss;
  if (!curve.points().empty()) {
    const auto& last = curve.points().back();
    final_provenance["val"] = {{"sigma", val_sigma}, {"psnr", last.psnr}, {"ssim", last.ssim}};
    final_provenance["val_gain_last_fifth_db"] = curve.psnr_gain_over_last(0.2);
  }
  save_model_dir(output, model.network, final_provenance);
  std::printf("saved %s after %lld steps (final loss %.3f)\n", output.c_str(),
              static_cast<long long>(trainer.step()), last_loss);
  return 0;
}

}  // namespace ern::cli
