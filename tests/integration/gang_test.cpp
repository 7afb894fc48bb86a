// One search on a gang of two processes through c10d (Gloo on loopback): each member trains on
// its half of the global batch and gradients are averaged every step, so two members with batch b
// end the search where one process with batch 2b does, within float tolerance.

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "model/safetensors.h"
#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;

std::string gang_spec(int batch) {
  return "name: gang\n"
         "device: cpu-1t\n"
         "data: " +
         test::test_data_dir().string() +
         "\n"
         "architecture: {width: 8, encoder_blocks: [1, 1], middle_blocks: 1, decoder_blocks: [1, "
         "1]}\n"
         "training: {batch: " +
         std::to_string(batch) +
         ", patch: 32}\n"
         "stages: {warmup_steps: 6, search_steps: 6, finetune_steps: 2, checkpoint_every: 100}\n"
         "search: {alpha_learning_rate: 0.05, lambda_latency: 0.2}\n"
         "latency: {size: [64, 64]}\n"
         "evaluation: {sigmas: [25]}\n";
}

TEST(Gang, TwoMembersWithBatchBTrainAsOneWithBatch2B) {
  test::TempDir dir;
  const auto farm = test::start_quick_devicefarm(dir.path());
  std::ofstream(dir / "single.yaml") << gang_spec(4);
  std::ofstream(dir / "member.yaml") << gang_spec(2);
  const auto ernctl = (test::bin_dir() / "ernctl").string();
  const auto search = [&](const std::string& spec, const std::string& out,
                          std::vector<std::string> extra) {
    std::vector<std::string> argv = {
        ernctl,         "search",        "run-local", (dir / spec).string(),
        "--devicefarm", farm->address(), "-o",        (dir / out).string()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return test::run(argv);
  };
  const auto single = search("single.yaml", "single", {});
  ASSERT_EQ(single.exit_code, 0) << single.output;

  const std::string rendezvous = "127.0.0.1:" + std::to_string(test::free_loopback_port());
  SubprocessResult member1;
  std::thread other([&] {
    member1 = search("member.yaml", "rank1",
                     {"--world-size", "2", "--rank", "1", "--rendezvous", rendezvous});
  });
  const auto member0 = search("member.yaml", "rank0",
                              {"--world-size", "2", "--rank", "0", "--rendezvous", rendezvous});
  other.join();
  ASSERT_EQ(member0.exit_code, 0) << member0.output;
  ASSERT_EQ(member1.exit_code, 0) << member1.output;
  EXPECT_TRUE(fs::exists(dir / "rank0" / "report.json"));
  EXPECT_FALSE(fs::exists(dir / "rank1" / "report.json")) << "rank 0 alone exports";

  // The supernet (weights and α) at the end of the search.
  const auto alone = read_safetensors_file(dir / "single" / "work" / "search-state.safetensors");
  const auto together = read_safetensors_file(dir / "rank0" / "work" / "search-state.safetensors");
  std::map<std::string, torch::Tensor> expected(alone.tensors.begin(), alone.tensors.end());
  int compared = 0;
  for (const auto& [name, tensor] : together.tensors) {
    if (name.rfind("model.", 0) != 0) continue;
    ASSERT_EQ(expected.count(name), 1u) << name;
    EXPECT_TRUE(torch::allclose(tensor, expected.at(name), 1e-3, 1e-4))
        << name << ": max difference " << (tensor - expected.at(name)).abs().max().item<double>();
    ++compared;
  }
  EXPECT_GT(compared, 10);
  EXPECT_EQ(together.metadata.at("step"), "12");
}

}  // namespace
}  // namespace ern
