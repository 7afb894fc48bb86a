#include "model/trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <numeric>

#include "common/image_io.h"
#include "model/dataset.h"
#include "model/train_config.h"
#include "tests/test_support.h"

namespace ern {
namespace {

// image channels, width, encoder blocks, middle blocks, decoder blocks
const NafnetArchitecture kTiny{3, 8, {1, 1}, 1, {1, 1}, {}};

TrainOptions tiny_options(int64_t iterations) {
  TrainOptions options;
  options.iterations = iterations;
  options.batch = 2;
  options.patch = 32;
  options.seed = 7;
  return options;
}

std::filesystem::path train_images() { return test::test_data_dir() / "train"; }

TEST(Training, PsnrLossIsNegativePsnrOfEachImageAveraged) {
  auto target = torch::zeros({2, 3, 4, 4});
  auto prediction = torch::cat({torch::full({1, 3, 4, 4}, 0.1), torch::full({1, 3, 4, 4}, 0.01)});
  const double expected = (10.0 * std::log10(0.01 + 1e-8) + 10.0 * std::log10(0.0001 + 1e-8)) / 2.0;
  EXPECT_NEAR(psnr_loss(prediction, target).item<double>(), expected, 1e-4);
}

TEST(Training, CosineScheduleRunsFromLearningRateToMinimum) {
  TrainOptions options;
  options.iterations = 100;
  EXPECT_DOUBLE_EQ(cosine_learning_rate(options, 0), 1e-3);
  EXPECT_NEAR(cosine_learning_rate(options, 50), (1e-3 + 1e-7) / 2, 1e-12);
  EXPECT_NEAR(cosine_learning_rate(options, 100), 1e-7, 1e-15);
}

TEST(TrainingData, SyntheticBatchesAreDeterministicAndRestorable) {
  SyntheticNoiseData first(train_images(), {25}, 3, 32);
  SyntheticNoiseData second(train_images(), {25}, 3, 32);
  auto a = first.next_batch(4, 32);
  auto b = second.next_batch(4, 32);
  EXPECT_TRUE(torch::equal(a.noisy, b.noisy));
  EXPECT_EQ(a.noisy.sizes(), (std::vector<int64_t>{4, 3, 32, 32}));
  const auto state = first.save_state();
  auto next = first.next_batch(4, 32);
  second.load_state(state);
  EXPECT_TRUE(torch::equal(next.clean, second.next_batch(4, 32).clean));

  // Noise at sigma 25 on the 0..255 scale, clipped and quantized to 8-bit levels.
  const double residual_std = (a.noisy - a.clean).std().item<double>() * 255.0;
  EXPECT_NEAR(residual_std, 25.0, 3.0);
  EXPECT_TRUE(torch::allclose(a.noisy * 255.0, (a.noisy * 255.0).round(), 0, 1e-3));
}

TEST(TrainingData, PairedFoldersGiveMatchingCrops) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "noisy");
  std::filesystem::create_directories(dir / "clean");
  const cv::Mat clean = read_rgb8(list_images(train_images()).front());
  write_image(dir / "clean" / "0001.png", clean);
  write_image(dir / "noisy" / "0001.png", clean);  // identical pair: crops must coincide
  auto data = open_training_data(dir.path(), {15}, 1, 48);
  auto batch = data->next_batch(3, 48);
  EXPECT_TRUE(torch::equal(batch.noisy, batch.clean));

  std::filesystem::remove(dir / "clean" / "0001.png");
  try {
    open_training_data(dir.path(), {15}, 1, 48);
    FAIL() << "missing clean partner accepted";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("clean partner"), std::string::npos) << error.what();
  }
}

TEST(Training, LossFallsOnRealImages) {
  torch::manual_seed(0);
  Nafnet network(kTiny);
  SyntheticNoiseData data(train_images(), {25}, 11, 32);
  auto options = tiny_options(80);
  options.batch = 4;
  Trainer trainer(network, data, options, torch::kCPU);
  std::vector<double> losses;
  trainer.run([&](const TrainProgress& p) { losses.push_back(p.loss); });
  ASSERT_EQ(losses.size(), 80u);
  const auto mean = [](auto begin, auto end) {
    return std::accumulate(begin, end, 0.0) / std::distance(begin, end);
  };
  // PSNR loss is negative PSNR: lower is better.
  EXPECT_LT(mean(losses.end() - 20, losses.end()), mean(losses.begin(), losses.begin() + 20) - 1.0);
}

TEST(Training, ResumedRunEqualsUninterruptedRun) {
  test::TempDir dir;
  const auto options = tiny_options(12);

  torch::manual_seed(1);
  Nafnet straight(kTiny);
  torch::manual_seed(1);
  Nafnet resumed(kTiny);
  {
    SyntheticNoiseData data(train_images(), options.sigmas, options.seed, options.patch);
    Trainer trainer(straight, data, options, torch::kCPU);
    trainer.run(nullptr);
    EXPECT_TRUE(trainer.finished());
  }
  {
    SyntheticNoiseData data(train_images(), options.sigmas, options.seed, options.patch);
    Trainer trainer(resumed, data, options, torch::kCPU);
    trainer.run(nullptr, 5, 0, dir / "state.safetensors");
    EXPECT_EQ(trainer.step(), 5);
  }
  {
    // A new process would start here: fresh data pipeline and optimizer, state from the file.
    SyntheticNoiseData data(train_images(), options.sigmas, options.seed, options.patch);
    Trainer trainer(resumed, data, options, torch::kCPU);
    trainer.load_checkpoint(dir / "state.safetensors");
    EXPECT_EQ(trainer.step(), 5);
    trainer.run(nullptr);
  }
  const auto a = straight->named_parameters();
  const auto b = resumed->named_parameters();
  for (const auto& item : a) {
    EXPECT_TRUE(torch::allclose(item.value(), b[item.key()], 0, 1e-6)) << item.key();
  }
}

TEST(Training, CheckpointFromOtherOptionsIsRefused) {
  test::TempDir dir;
  Nafnet network(kTiny);
  SyntheticNoiseData data(train_images(), {25}, 1, 32);
  Trainer trainer(network, data, tiny_options(3), torch::kCPU);
  trainer.run(nullptr, 1, 0, dir / "state.safetensors");
  auto other = tiny_options(3);
  other.patch = 40;
  Trainer mismatched(network, data, other, torch::kCPU);
  try {
    mismatched.load_checkpoint(dir / "state.safetensors");
    FAIL() << "checkpoint with another patch size accepted";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("patch"), std::string::npos) << error.what();
  }
}

TEST(Training, CudaIsRefusedClearlyWhenAbsent) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has CUDA";
  EXPECT_THROW(parse_device("cuda"), std::invalid_argument);
  EXPECT_THROW(parse_device("tpu"), std::invalid_argument);
  EXPECT_EQ(parse_device("cpu"), torch::Device(torch::kCPU));
}

}  // namespace
}  // namespace ern

namespace ern {
namespace {

TEST(TrainConfig, ReadsTheShippedConfigsAndNamesBadKeys) {
  const auto demo = load_train_options(test::source_dir() / "configs/train/demo.yaml");
  EXPECT_EQ(demo.patch, 64);
  EXPECT_EQ(demo.sigmas, (std::vector<double>{15, 25, 50}));
  const auto sidd = load_train_options(test::source_dir() / "configs/train/nafnet-sidd.yaml");
  EXPECT_EQ(sidd.patch, 256);
  EXPECT_DOUBLE_EQ(sidd.beta2, 0.9);

  test::TempDir dir;
  const auto message_for = [&](const std::string& text) -> std::string {
    std::ofstream(dir / "c.yaml") << text;
    try {
      load_train_options(dir / "c.yaml");
    } catch (const std::exception& error) {
      return error.what();
    }
    return "";
  };
  EXPECT_NE(message_for("iterations: 10\nlearning_rte: 0.1\n").find("learning_rte: unknown field"),
            std::string::npos);
  EXPECT_NE(message_for("patch: big\n").find("patch"), std::string::npos);
  EXPECT_NE(message_for("batch: 0\n").find("batch"), std::string::npos);
  EXPECT_NE(message_for("betas: [0.9]\n").find("betas"), std::string::npos);
}

}  // namespace
}  // namespace ern
