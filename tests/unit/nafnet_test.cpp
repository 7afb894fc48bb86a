#include "model/nafnet.h"

#include <gtest/gtest.h>

#include <set>

#include "model/mac_counter.h"

namespace ern {
namespace {

// image channels, width, encoder blocks, middle blocks, decoder blocks
const NafnetArchitecture kTiny{3, 8, {1, 2}, 1, {2, 1}, {}};

TEST(Nafnet, ParameterCountMatchesClosedFormForSeveralShapes) {
  std::vector<NafnetArchitecture> shapes = {kTiny, NafnetArchitecture()};
  NafnetArchitecture gray = kTiny;
  gray.image_channels = 1;
  shapes.push_back(gray);
  for (const auto& arch : shapes) {
    Nafnet network(arch);
    EXPECT_EQ(count_parameters(*network), arch.expected_parameter_count()) << arch.describe();
  }
  Nafnet sidd{NafnetArchitecture()};
  EXPECT_EQ(count_parameters(*sidd), 29'159'715);
}

TEST(Nafnet, ParameterNamesFollowTheReferenceStateDict) {
  Nafnet network(kTiny);
  std::set<std::string> names;
  for (const auto& item : network->named_parameters()) names.insert(item.key());
  for (const char* expected :
       {"intro.weight", "intro.bias", "ending.weight", "ending.bias", "encoders.0.0.conv1.weight",
        "encoders.1.1.conv2.bias", "encoders.1.1.sca.1.weight", "encoders.0.0.norm1.weight",
        "encoders.0.0.norm2.bias", "encoders.0.0.beta", "encoders.0.0.gamma", "downs.0.weight",
        "downs.1.bias", "middle_blks.0.conv5.weight", "ups.0.0.weight", "ups.1.0.weight",
        "decoders.0.1.conv4.weight", "decoders.1.0.conv3.bias"}) {
    EXPECT_TRUE(names.count(expected)) << expected;
  }
  EXPECT_FALSE(names.count("ups.0.0.bias")) << "up convolutions have no bias";
}

TEST(Nafnet, CountsThePublishedMacsAt256) {
  Nafnet network{NafnetArchitecture()};
  const int64_t macs = count_conv_macs(
      *network, [&](const torch::Tensor& x) { return network->forward(x); }, 3, 256, 256);
  EXPECT_EQ(macs, 16'045'035'520);  // 16.05 G
}

TEST(Nafnet, PadsAnySizeAndCropsBack) {
  Nafnet network(kTiny);
  torch::NoGradGuard no_grad;
  auto x = torch::rand({2, 3, 37, 50});
  auto y = network->forward(x);
  EXPECT_EQ(y.sizes(), x.sizes());
  // beta and gamma start at zero, so a fresh network is ending(intro(...)) + input: check the
  // global residual holds by zeroing the ending convolution.
  for (auto& item : network->named_parameters()) {
    if (item.key().rfind("ending.", 0) == 0) item.value().zero_();
  }
  EXPECT_TRUE(torch::allclose(network->forward(x), x));
}

TEST(Nafnet, LayerNorm2dNormalizesOverChannelsPerPixel) {
  LayerNorm2d norm(4);
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 4, 3, 5}) * 3 + 2;
  auto y = norm->forward(x);
  EXPECT_TRUE(torch::allclose(y.mean(1), torch::zeros({1, 3, 5}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(y.pow(2).mean(1), torch::ones({1, 3, 5}), 1e-3, 1e-3));
}

TEST(Nafnet, PreparedForInferenceGivesTheSameOutputs) {
  using A = BlockAlternative;
  NafnetArchitecture arch = kTiny;  // 6 searchable blocks, every kind of alternative
  arch.genotype = {A::kNaf, A::kNafNoNorm, A::kNafNoCa, A::kNafLite, A::kSkip, A::kNaf};
  torch::manual_seed(3);
  Nafnet network(arch);
  {
    // Non-trivial LayerNorm affines, beta and gamma, so the folding has something to fold.
    torch::NoGradGuard no_grad;
    for (auto& item : network->named_parameters()) {
      const auto& name = item.key();
      if (name.find("norm") != std::string::npos || name.find("beta") != std::string::npos ||
          name.find("gamma") != std::string::npos) {
        item.value().uniform_(-1.5, 1.5);
      }
    }
  }
  network->eval();
  const auto input = torch::rand({2, 3, 37, 29});
  torch::Tensor plain;
  {
    torch::NoGradGuard no_grad;
    plain = network->forward(input);
  }
  network->prepare_for_inference();
  c10::InferenceMode inference;
  const auto prepared = network->forward(input);
  ASSERT_EQ(prepared.sizes(), plain.sizes());
  EXPECT_LT((prepared - plain).abs().max().item<float>(), 1e-4);
  EXPECT_GT(plain.abs().max().item<float>(), 0.1) << "a degenerate network proves nothing";
}

TEST(Nafnet, MacCountingIsOffOutsideAScope) {
  Nafnet network(kTiny);
  MacCountScope outer;
  {
    MacCountScope inner;
    network->forward(torch::rand({1, 3, 16, 16}));
    EXPECT_GT(inner.macs(), 0);
  }
  EXPECT_EQ(outer.macs(), 0) << "only the innermost scope counts";
}

}  // namespace
}  // namespace ern
