#include "model/supernet.h"

#include <cmath>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/search_spec.h"

namespace ern {
namespace {

// image channels, width, encoder blocks, middle blocks, decoder blocks
const NafnetArchitecture kSkeleton{3, 8, {1, 2}, 1, {1, 1}, {}};

void randomize_block_scales(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters()) {
    if (item.key().find("beta") != std::string::npos ||
        item.key().find("gamma") != std::string::npos) {
      item.value().normal_(0.0, 0.3);
    }
  }
}

TEST(BlockAlternatives, ParameterCountsOfDerivedNetworksMatchTheModules) {
  NafnetArchitecture derived = kSkeleton;
  derived.genotype = {BlockAlternative::kNafNoNorm, BlockAlternative::kSkip,
                      BlockAlternative::kNafLite, BlockAlternative::kNafNoCa,
                      BlockAlternative::kNaf};
  Nafnet network(derived);
  EXPECT_EQ(count_parameters(*network), derived.expected_parameter_count());
  EXPECT_LT(count_parameters(*network), kSkeleton.expected_parameter_count());
  const auto json = derived.to_json();
  EXPECT_EQ(json["genotype"][1], "skip");
  EXPECT_EQ(NafnetArchitecture::from_json(json), derived);
  // Names stay those of NAFNet; dropped parts are absent.
  std::set<std::string> names;
  for (const auto& item : network->named_parameters()) names.insert(item.key());
  EXPECT_TRUE(names.count("encoders.0.0.sca.1.weight"));
  EXPECT_FALSE(names.count("encoders.0.0.norm1.weight"));
  EXPECT_FALSE(names.count("encoders.1.0.conv1.weight"));  // skip
  EXPECT_TRUE(names.count("encoders.1.1.conv1.weight"));
  EXPECT_FALSE(names.count("encoders.1.1.sca.1.weight"));
  EXPECT_THROW(parse_alternative("naf_turbo"), std::invalid_argument);
}

TEST(Supernet, OneHotMixingEqualsTheDerivedChild) {
  torch::manual_seed(3);
  Supernet supernet(kSkeleton, all_alternatives());
  randomize_block_scales(*supernet);
  const std::vector<BlockAlternative> genotype = {
      BlockAlternative::kNafLite, BlockAlternative::kNaf, BlockAlternative::kSkip,
      BlockAlternative::kNafNoCa, BlockAlternative::kNafNoNorm};
  {
    torch::NoGradGuard no_grad;
    supernet->alphas().fill_(-30.0);
    for (size_t i = 0; i < genotype.size(); ++i) {
      const auto& choices = supernet->alternatives();
      const auto j = std::find(choices.begin(), choices.end(), genotype[i]) - choices.begin();
      supernet->alphas()[i][j] = 30.0;
    }
  }
  EXPECT_EQ(supernet->derive_genotype(), genotype);
  EXPECT_LT(mean_normalized_entropy(supernet->probabilities()).item<double>(), 1e-6);
  auto child = derive_child(supernet, genotype);
  supernet->eval();
  child->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::rand({1, 3, 24, 24});
  EXPECT_TRUE(torch::allclose(supernet->forward(x), child->forward(x), 1e-5, 1e-5));
}

TEST(Supernet, UniformAlphasAreUndecidedAndGradientsReachThem) {
  Supernet supernet(kSkeleton,
                    std::vector<BlockAlternative>{BlockAlternative::kNaf, BlockAlternative::kSkip});
  randomize_block_scales(*supernet);
  EXPECT_NEAR(mean_normalized_entropy(supernet->probabilities()).item<double>(), 1.0, 1e-6);
  supernet->set_sampling(true, 2.0);
  auto out = supernet->forward(torch::rand({1, 3, 16, 16}));
  out.mean().backward();
  EXPECT_GT(supernet->alphas().grad().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(supernet->weight_parameters().size() + 1, supernet->parameters().size());
}

// Annealing the plain softmax's temperature sharpens the distribution without moving α: the same
// α that leave a block undecided at τ = 1 decide it at a low τ, and the argmax stays.
TEST(Supernet, LowerTemperatureSharpensTheSameAlphas) {
  Supernet supernet(
      kSkeleton, std::vector<BlockAlternative>{BlockAlternative::kNaf, BlockAlternative::kNafLite,
                                               BlockAlternative::kSkip});
  {
    torch::NoGradGuard no_grad;
    supernet->alphas().copy_(
        torch::tensor({0.0, 1.0, 0.0}).repeat({static_cast<int64_t>(supernet->block_count()), 1}));
  }
  const auto entropy = [&] {
    return mean_normalized_entropy(supernet->probabilities()).item<double>();
  };
  const double warm = entropy();
  const auto genotype = supernet->derive_genotype();
  supernet->set_sampling(false, 0.1);
  EXPECT_GT(warm, 0.5);
  EXPECT_LT(entropy(), 0.01);
  EXPECT_NEAR(supernet->probabilities()[0][1].item<double>(), 1.0 / (1.0 + 2.0 * std::exp(-10.0)),
              1e-6);
  EXPECT_EQ(supernet->derive_genotype(), genotype);
  // Gumbel sampling keeps softmax(α) as the distribution it samples from.
  supernet->set_sampling(true, 0.1);
  EXPECT_NEAR(entropy(), warm, 1e-9);
}

// Fixed blocks are the most certain ones, one-hot at their argmax, and give α no gradient; the
// others keep their softmax and their gradient.
TEST(Supernet, DecisionsFixTheMostCertainBlocksToTheirArgmax) {
  Supernet supernet(kSkeleton,
                    std::vector<BlockAlternative>{BlockAlternative::kNaf, BlockAlternative::kSkip});
  randomize_block_scales(*supernet);
  {
    torch::NoGradGuard no_grad;  // certainties, block by block: 0.62, 0.95, 0.5, 0.88, 0.73
    supernet->alphas().copy_(
        torch::tensor({{0.5, 0.0}, {0.0, 3.0}, {0.0, 0.0}, {2.0, 0.0}, {0.0, 1.0}}));
  }
  const auto undecided = supernet->probabilities().detach().clone();
  supernet->set_decided(2);
  const auto mixing = supernet->probabilities();
  EXPECT_TRUE(torch::equal(mixing[1], torch::tensor({0.0f, 1.0f})));
  EXPECT_TRUE(torch::equal(mixing[3], torch::tensor({1.0f, 0.0f})));
  for (int64_t block : {0, 2, 4}) EXPECT_TRUE(torch::allclose(mixing[block], undecided[block]));
  supernet->forward(torch::rand({1, 3, 16, 16})).mean().backward();
  const auto gradient = supernet->alphas().grad().abs().sum(1);
  EXPECT_EQ(gradient[1].item<double>(), 0.0);
  EXPECT_EQ(gradient[3].item<double>(), 0.0);
  EXPECT_GT(gradient[0].item<double>(), 0.0);
  supernet->set_decided(5);
  EXPECT_EQ(mean_normalized_entropy(supernet->probabilities()).item<double>(), 0.0);
  EXPECT_THROW(supernet->set_decided(6), std::invalid_argument);
}

}  // namespace
}  // namespace ern

namespace ern {
namespace {

TEST(DecisionSchedule, FixesBlocksOneAtATimeFromItsStartAndAllByTheEnd) {
  SearchSpec spec;
  EXPECT_EQ(spec.decided_blocks_at(1.0, 16), 0);  // not asked for: never
  spec.decide_from = 0.8;
  EXPECT_EQ(spec.decided_blocks_at(0.79, 16), 0);
  EXPECT_EQ(spec.decided_blocks_at(0.8, 16), 0);
  EXPECT_EQ(spec.decided_blocks_at(0.81, 16), 1);
  EXPECT_EQ(spec.decided_blocks_at(0.9, 16), 8);
  EXPECT_EQ(spec.decided_blocks_at(249.0 / 250.0, 16), 16);  // the last step of a 250-step search
  EXPECT_EQ(spec.to_json()["search"]["decide_from"], 0.8);
  spec.decide_from = 0.0;
  EXPECT_THROW(spec.validate(), std::invalid_argument);
}

TEST(EntropySchedule, RampsThenRisesGeometricallyToTheFinalWeight) {
  EntropySchedule schedule{3.0, 0.1, 0.5, 30.0};
  EXPECT_EQ(schedule.weight_at(0.05), 0.0);
  EXPECT_NEAR(schedule.weight_at(0.3), 1.5, 1e-12);
  EXPECT_NEAR(schedule.weight_at(0.5), 3.0, 1e-12);
  EXPECT_NEAR(schedule.weight_at(0.75), 3.0 * std::sqrt(10.0), 1e-9);
  EXPECT_NEAR(schedule.weight_at(1.0), 30.0, 1e-9);
  // Without a final weight the ramp holds at max.
  EntropySchedule flat{3.0, 0.1, 0.5};
  EXPECT_EQ(flat.weight_at(0.9), 3.0);
}

}  // namespace
}  // namespace ern
