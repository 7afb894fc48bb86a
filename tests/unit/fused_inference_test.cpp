#include "inference/fused_nafnet.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>

#include "common/heap_tuning.h"
#include "inference/precision_cost.h"
#include "inference/serving_engine.h"
#include "model/dataset.h"
#include "model/model_dir.h"
#include "tests/test_support.h"

namespace ern::inference {
namespace {

using A = BlockAlternative;

// The same inputs on every run (LibTorch's default generator starts from a different state in
// each process), so that a result near a bound is not met only sometimes.
class FusedInference : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(2026); }
};

// Every parameter random within +-`range` (beta, gamma and the LayerNorm affines too: a fresh
// network's blocks are the identity, which would hide a wrong block).
Nafnet random_network(const NafnetArchitecture& architecture, uint64_t seed, double range = 0.3) {
  torch::manual_seed(seed);
  Nafnet network(architecture);
  torch::NoGradGuard no_grad;
  for (auto& parameter : network->parameters()) parameter.uniform_(-range, range);
  network->eval();
  return network;
}

// The unfused LibTorch forward pass of a network `make` gives, and the fused engine's of another
// it gives (the same weights), on `input`.
void expect_fused_matches(const std::function<Nafnet()>& make, const torch::Tensor& input) {
  auto reference = make();
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = reference->forward(input);
  }
  auto served = make();
  FusedNafnet fused(served);
  const auto actual = fused.forward(input);
  ASSERT_EQ(actual.sizes(), input.sizes());
  EXPECT_LT((actual - expected).abs().max().item<float>(), 1e-4)
      << reference->architecture().describe();
}

void expect_fused_matches_reference(const NafnetArchitecture& architecture,
                                    const torch::Tensor& input) {
  expect_fused_matches([&] { return random_network(architecture, 7); }, input);
}

TEST_F(FusedInference, MatchesTheUnfusedNetworkForEveryBlockAlternative) {
  // Two levels, every alternative twice (skip included), an odd size that needs padding.
  NafnetArchitecture architecture{3, 16, {2, 3}, 1, {3, 2}, {}};
  architecture.genotype = {A::kNaf,     A::kNafNoNorm, A::kNafNoCa, A::kNafLite,   A::kSkip,
                           A::kNafLite, A::kNafNoCa,   A::kSkip,    A::kNafNoNorm, A::kNaf};
  expect_fused_matches_reference(architecture, torch::rand({1, 3, 37, 50}));
}

TEST_F(FusedInference, MatchesTheUnfusedNetworkOnALargeImage) {
  // Serving sizes: kernels that are right on small images can be wrong on large ones. oneDNN
  // 2.6's fused 1x1 + depth-wise kernel is, from a size that depends on the CPU's caches (96x96 on
  // one machine, 256x256 on another), so the engine does not use it.
  NafnetArchitecture architecture{3, 16, {2, 2}, 1, {2, 2}, {}};
  architecture.genotype = {A::kNaf,     A::kNafNoNorm, A::kNafNoCa,   A::kNafLite,
                           A::kNafLite, A::kNafNoCa,   A::kNafNoNorm, A::kNaf};
  expect_fused_matches_reference(architecture, torch::rand({1, 3, 320, 288}));
}

TEST_F(FusedInference, MatchesTheUnfusedNetworkInStripsAndTilesOnABatch) {
  // Level 0 (2.9 MB per image) runs in strips and tiles: each image with its own attention scale,
  // 12 channels (part of a vector), a last tile narrower than the others, and blocks without
  // LayerNorm and without channel attention (whose tiles run over both images at once).
  NafnetArchitecture architecture{3, 12, {1, 1}, 1, {1, 1}, {}};
  architecture.genotype = {A::kNafNoNorm, A::kNaf, A::kNaf, A::kNafNoCa};
  expect_fused_matches_reference(architecture, torch::rand({2, 3, 256, 240}));
}

TEST_F(FusedInference, MatchesTheUnfusedNetworkAtAWidthOffTheVectorLanes) {
  // 12 and 24 channels: the pixel kernels' masked and portable paths (16-lane vectors elsewhere).
  const NafnetArchitecture architecture{3, 12, {1, 1}, 1, {1, 1}, {}};
  expect_fused_matches_reference(architecture, torch::rand({1, 3, 40, 36}));
}

TEST_F(FusedInference, MatchesTheUnfusedNetworkOnABatchWithChannelAttentionPerImage) {
  // The attention scale differs per image; the fused engine folds it per image. Weights within
  // +-0.21 (at +-0.3 this deeper network's outputs reach about 150, where fp32 rounding alone
  // comes to 1e-4 for some inputs), the attention five times stronger so that a scale given to
  // the wrong image shows.
  const NafnetArchitecture architecture{3, 16, {1, 1, 1}, 2, {1, 1, 1}, {}};
  const auto network = [&] {
    auto network = random_network(architecture, 7, 0.21);
    torch::NoGradGuard no_grad;
    for (auto& parameter : network->named_parameters()) {
      if (parameter.key().find(".sca.") != std::string::npos) parameter.value().mul_(5);
    }
    return network;
  };
  // Images unlike each other, and so their attention scales: noise, a smooth ramp, dark noise.
  auto batch = torch::rand({3, 3, 48, 40});
  batch[1] = torch::linspace(0, 1, 40).expand({3, 48, 40}) * 0.5 + 0.25;
  batch[2].mul_(0.2);
  expect_fused_matches(network, batch);
}

TEST_F(FusedInference, MatchesTheUnfusedNetworkOnGrayImagesAndReusesPlansPerShape) {
  const NafnetArchitecture architecture{1, 16, {1, 2}, 1, {1, 1}, {}};
  auto reference = random_network(architecture, 3);
  auto served = random_network(architecture, 3);
  FusedNafnet fused(served);
  torch::NoGradGuard no_grad;
  // Shapes alternate so cached plans are used again, not just made.
  for (const auto& shape :
       {std::vector<int64_t>{1, 1, 32, 32}, {2, 1, 20, 28}, {1, 1, 32, 32}, {2, 1, 20, 28}}) {
    const auto input = torch::rand(shape);
    const auto difference = (fused.forward(input) - reference->forward(input)).abs().max();
    EXPECT_LT(difference.item<float>(), 1e-4) << input.sizes();
  }
}

// As in the servers (keep_freed_memory_in_heap): 128 MiB of NaN, freed at once, which the next
// allocations get back.
void leave_nan_in_freed_memory() {
  torch::full({32 << 20}, std::numeric_limits<float>::quiet_NaN());
}

TEST_F(FusedInference, GivesTheSameResultWhateverTheReusedMemoryHeld) {
  // As in the servers: freed memory stays in the heap and comes back on the next call, here
  // holding NaN. Nothing the engine reads may depend on it, whole images (160x160) or strips and
  // tiles (two images of 256x240, each with its own attention scale).
  keep_freed_memory_in_heap();
  auto network = random_network({3, 16, {1, 1, 1, 1}, 1, {1, 1, 1, 1}, {}}, 5);
  FusedNafnet fused(network);
  for (const auto& input : {torch::rand({1, 3, 160, 160}), torch::rand({2, 3, 256, 240})}) {
    const auto first = fused.forward(input).clone();
    for (int run = 0; run < 3; ++run) {
      leave_nan_in_freed_memory();
      EXPECT_TRUE(torch::equal(fused.forward(input), first)) << input.sizes() << ", run " << run;
    }
  }
}

// Three levels and every alternative, with weights within +-0.21: activations stay O(1) through
// the blocks without LayerNorm, whose gates square them (at +-0.3 they reach 1e12 and any rounding
// is amplified past meaning), and the blocks still change the image enough for a reduced
// precision's rounding to show (about 1e-3).
Nafnet network_of_every_alternative() {
  NafnetArchitecture architecture{3, 16, {1, 2, 1}, 1, {2, 1, 1}, {}};
  architecture.genotype = {A::kNaf,     A::kNafNoNorm, A::kNafNoCa,   A::kNafLite,
                           A::kNafLite, A::kNafNoCa,   A::kNafNoNorm, A::kNaf};
  return random_network(architecture, 11, 0.21);
}

// A reduced precision's output against fp32's: its largest and mean errors within the given
// fractions of fp32's largest magnitude, and not zero (it did compute in that precision).
void expect_close_but_rounded(const torch::Tensor& actual, const torch::Tensor& expected,
                              double max_fraction, double mean_fraction, const char* precision) {
  ASSERT_EQ(actual.sizes(), expected.sizes());
  const double scale = expected.abs().max().item<double>();
  EXPECT_LT((actual - expected).abs().max().item<double>(), max_fraction * scale);
  EXPECT_LT((actual - expected).abs().mean().item<double>(), mean_fraction * scale);
  EXPECT_GT((actual - expected).abs().max().item<double>(), 0.0) << "not computed in " << precision;
}

TEST_F(FusedInference, Bfloat16StaysCloseToFp32ForEveryBlockAlternativeAndBatch) {
  // A batch whose deepest level has fewer pixels than channels (the attention scale goes onto
  // the activations there), an odd size.
  auto network = network_of_every_alternative();
  FusedNafnet fp32(network);
  FusedNafnet bf16(network, Precision::kBf16);
  const auto batch = torch::rand({3, 3, 21, 30});
  const auto expected = fp32.forward(batch);
  const auto actual = bf16.forward(batch);
  if (!cpu_has_native_bf16()) {
    EXPECT_EQ(bf16.precision(), Precision::kFp32);
    EXPECT_TRUE(torch::equal(actual, expected));
    return;
  }
  ASSERT_EQ(bf16.precision(), Precision::kBf16);
  // bf16 keeps 8 significant bits inside each block; the residual stream stays fp32.
  expect_close_but_rounded(actual, expected, 0.01, 0.001, "bf16");
}

TEST_F(FusedInference, Bfloat16LosesAtMostFiveHundredthsOfADecibelOnPhotographs) {
  auto model = load_model_dir(test::source_dir() / "models" / "nafnet-base");
  const auto images = list_images(test::test_data_dir() / "val");
  if (!cpu_has_native_bf16()) {
    EXPECT_THROW(measure_precision_cost(model, Precision::kBf16, {}, images),
                 std::invalid_argument);
    return;
  }
  const auto cost = measure_precision_cost(model, Precision::kBf16, {}, images);
  EXPECT_EQ(cost.images, static_cast<int>(images.size()));
  EXPECT_GT(cost.fp32_psnr, 25.0);  // a trained model, so the comparison means something
  EXPECT_LE(std::abs(cost.change_db()), kMaxPrecisionLossDb)
      << "fp32 " << cost.fp32_psnr << " dB, bf16 " << cost.reduced_psnr << " dB";
}

// The int8 ranges of `network` observed on `batch`, and fp32's output (step by step: observing
// takes each step's whole output).
std::pair<Int8Calibration, torch::Tensor> calibrated_on(Nafnet& network,
                                                        const torch::Tensor& batch) {
  FusedNafnet fp32(network);
  Int8Calibration calibration;
  return {calibration, fp32.observe(batch, calibration)};
}

TEST_F(FusedInference, Int8StaysCloseToFp32ForEveryBlockAlternativeAndBatch) {
  auto network = network_of_every_alternative();
  const auto batch = torch::rand({3, 3, 21, 30});
  const auto [calibration, expected] = calibrated_on(network, batch);
  EXPECT_TRUE(torch::equal(expected, FusedNafnet(network).forward(batch)))
      << "observing changes nothing";
  ASSERT_EQ(calibration.size(), 9u) << "one entry per block";
  EXPECT_THROW(FusedNafnet(network, Precision::kInt8), std::invalid_argument)
      << "int8 without a calibration";

  FusedNafnet int8(network, Precision::kInt8, calibration);
  ASSERT_EQ(int8.precision(), Precision::kInt8);
  // 8-bit inputs and weights of the 1x1 convolutions: errors of a few steps of 1/127.
  expect_close_but_rounded(int8.forward(batch), expected, 0.05, 0.005, "int8");
}

TEST_F(FusedInference, Int8InStripsAndTilesMatchesItsStepByStepFormOnABatch) {
  // Level 0 (3.9 MB per image) runs in strips and tiles, each image with its own attention scale
  // among the int8 steps of conv3's input; the same engine step by step is the reference.
  keep_freed_memory_in_heap();
  auto network = network_of_every_alternative();
  const auto batch = torch::rand({2, 3, 256, 240});
  const auto [calibration, expected] = calibrated_on(network, batch);
  FusedNafnet tiled(network, Precision::kInt8, calibration);
  FusedNafnet step_by_step(network, Precision::kInt8, calibration, Tiling::kNever);
  const auto actual = tiled.forward(batch).clone();
  const auto reference = step_by_step.forward(batch);
  // (The pool sums in another order, which can move a value across a rounding boundary.)
  EXPECT_LT((actual - reference).abs().mean().item<float>(), 1e-6);
  EXPECT_LT((actual - reference).abs().max().item<float>(), 1e-3);
  expect_close_but_rounded(actual, expected, 0.05, 0.005, "int8");
  leave_nan_in_freed_memory();
  EXPECT_TRUE(torch::equal(tiled.forward(batch), actual)) << "with reused memory holding NaN";
}

TEST_F(FusedInference, AnImageGetsTheSameAnswerAloneAndInABatchInEveryPrecision) {
  // Denoise batches whatever requests of one size arrive together: what an application gets back
  // must not depend on them, to the bit. At 256x240, level 0 runs in strips and tiles, its tiles
  // over the whole batch where a block has no channel attention.
  NafnetArchitecture architecture{3, 12, {1, 1}, 1, {1, 1}, {}};
  architecture.genotype = {A::kNafNoNorm, A::kNaf, A::kNaf, A::kNafNoCa};
  auto network = random_network(architecture, 9, 0.21);
  const auto batch = torch::rand({3, 3, 256, 240});
  const auto calibration = calibrated_on(network, batch).first;
  for (const auto precision : {Precision::kFp32, Precision::kBf16, Precision::kInt8}) {
    FusedNafnet engine(network, precision, calibration);
    const auto together = engine.forward(batch);
    for (int64_t image = 0; image < batch.size(0); ++image) {
      EXPECT_TRUE(torch::equal(engine.forward(batch.slice(0, image, image + 1)),
                               together.slice(0, image, image + 1)))
          << name_of(engine.precision()) << ", image " << image;
    }
  }
}

TEST_F(FusedInference, Int8LosesAtMostFiveHundredthsOfADecibelOnPhotographs) {
  auto model = load_model_dir(test::source_dir() / "models" / "nafnet-base");
  // Calibrated on a few training photographs, scored on others.
  auto training = list_images(test::test_data_dir() / "train");
  training.resize(3);
  const auto calibration = calibrate_int8(model, training);
  const auto images = list_images(test::test_data_dir() / "val");
  const auto cost = measure_precision_cost(model, Precision::kInt8, calibration, images);
  EXPECT_GT(cost.fp32_psnr, 25.0);
  EXPECT_LE(std::abs(cost.change_db()), kMaxPrecisionLossDb)
      << "fp32 " << cost.fp32_psnr << " dB, int8 " << cost.reduced_psnr << " dB";

  // The calibration as model.json stores it serves the same engine (Denoise and the gate's).
  model.metadata["serving_precision"] = "int8";
  model.metadata["int8_calibration"] = to_json(calibration);
  const auto served = serving_engine(model);
  ASSERT_EQ(served->precision(), Precision::kInt8);
  FusedNafnet direct(model.network, Precision::kInt8, calibration);
  const auto input = torch::rand({1, 3, 40, 48});
  EXPECT_TRUE(torch::allclose(served->forward(input), direct.forward(input), 0.0, 1e-6));
}

TEST_F(FusedInference, RefusesInputWithTheWrongNumberOfChannels) {
  auto network = random_network({3, 16, {1}, 1, {1}, {}}, 1);
  FusedNafnet fused(network);
  EXPECT_THROW(fused.forward(torch::rand({1, 1, 16, 16})), std::invalid_argument);
}

}  // namespace
}  // namespace ern::inference
