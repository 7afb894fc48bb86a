// The search pipeline end to end on tiny configurations, against the real ern-devicefarm binary
// (local-cpu device) over gRPC.

#include <gtest/gtest.h>

#include <fstream>
#include <map>

#include "devicefarm/latency_client.h"
#include "model/model_dir.h"
#include "model/search_pipeline.h"
#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;

class SearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    // A table device with made-up numbers (standing in for a phone's file) covering the tiny
    // spec's blocks at 96x96: channels 8 at 96x96 and 16 at 48x48.
    std::ofstream table(*dir_ / "phone.csv");
    table << "alternative,channels,height,width,median_ms,p10_ms,p90_ms,runs\n";
    const std::map<std::string, double> cost = {
        {"naf", 10.0}, {"naf_nonorm", 6.0}, {"naf_noca", 8.0}, {"naf_lite", 4.0}, {"skip", 0.1}};
    for (const auto& [alternative, ms] : cost) {
      table << alternative << ",8,96,96," << ms << "," << ms << "," << ms << ",10\n";
      table << alternative << ",16,48,48," << ms << "," << ms << "," << ms << ",10\n";
    }
    table.close();
    std::ofstream(*dir_ / "farm.yaml")
        << "measurement: {warmup_runs: 3, min_runs: 9, max_runs: 40, budget_seconds: 1.0}\n"
           "devices:\n  - {id: cpu-1t, backend: local-cpu, threads: 1}\n"
           "  - {id: phone, backend: table, table: phone.csv}\n";
    farm_ = new test::ServerProcess((test::bin_dir() / "ern-devicefarm").string(),
                                    {"--config", (*dir_ / "farm.yaml").string(), "--listen",
                                     "127.0.0.1:0", "--data", (*dir_ / "farm").string()},
                                    *dir_ / "farm.log");
  }
  static void TearDownTestSuite() {
    delete farm_;
    delete dir_;
  }

  static SearchSpec tiny_spec() {
    SearchSpec spec;
    spec.name = "tiny";
    spec.device = "cpu-1t";
    spec.data = test::test_data_dir();
    spec.architecture = NafnetArchitecture{3, 8, {1, 1}, 1, {1, 1}, {}};
    spec.batch = 2;
    spec.patch = 32;
    spec.warmup_steps = 10;
    spec.search_steps = 150;
    spec.finetune_steps = 3;
    spec.checkpoint_every = 20;
    spec.alpha_learning_rate = 0.05;
    spec.lambda_latency = 0.2;
    spec.entropy = {2.0, 0.2, 0.7};
    spec.latency_height = 96;
    spec.latency_width = 96;
    spec.eval_sigmas = {25};
    return spec;
  }

  static nlohmann::json run(const SearchSpec& spec, const fs::path& output,
                            const SearchCallback& on_progress = nullptr) {
    farm::LatencyClient client(farm_->address());
    return run_search_pipeline(spec, client, output, on_progress);
  }

  static test::TempDir* dir_;
  static test::ServerProcess* farm_;
};

test::TempDir* SearchTest::dir_ = nullptr;
test::ServerProcess* SearchTest::farm_ = nullptr;

void expect_complete_report(const nlohmann::json& report, size_t blocks) {
  ASSERT_EQ(report["genotype"].size(), blocks);
  for (const char* network : {"baseline", "derived"}) {
    for (const char* key : {"params", "gmacs_256", "latency_ms", "peak_memory_bytes"}) {
      EXPECT_GT(report[network][key].get<double>(), 0.0) << network << "." << key;
    }
    EXPECT_GT(report[network]["psnr"]["25"].get<double>(), 10.0) << network;
    EXPECT_GT(report[network]["ssim"]["25"].get<double>(), 0.0) << network;
  }
  for (const char* key :
       {"final_normalized_entropy", "expected_latency_ms", "lut_latency_ms_baseline"}) {
    EXPECT_TRUE(report["search"].contains(key)) << key;
  }
  EXPECT_FALSE(report["search"]["history"].empty());
  EXPECT_TRUE(report["search"]["history"][0].contains("normalized_entropy"));
}

TEST_F(SearchTest, EntropyTermMakesEveryBlockDecide) {
  test::TempDir out;
  auto spec = tiny_spec();
  // No latency term: it would also push α to a decision, and it depends on measured (so varying)
  // latencies; without it both runs are deterministic and differ only by the entropy term.
  spec.lambda_latency = 0.0;
  const auto with_entropy = run(spec, out / "with");
  expect_complete_report(with_entropy, 4);
  EXPECT_TRUE(fs::exists(out / "with" / "model.json"));
  EXPECT_TRUE(fs::exists(out / "with" / "report.json"));
  EXPECT_TRUE(fs::exists(out / "with" / "baseline" / "model.json"));

  spec.entropy.max_weight = 0.0;
  const auto without = run(spec, out / "without");
  const double decided = with_entropy["search"]["final_normalized_entropy"];
  const double undecided = without["search"]["final_normalized_entropy"];
  std::printf("final mean normalized entropy: %.4f with the entropy term, %.4f without\n", decided,
              undecided);
  EXPECT_LT(decided, 0.05);
  EXPECT_GT(undecided, 0.1);
  EXPECT_GT(undecided, 4 * decided);
}

TEST_F(SearchTest, LatencyWeightBuysMeasuredSpeed) {
  test::TempDir out;
  auto spec = tiny_spec();
  spec.lambda_latency = 3.0;
  const auto fast = run(spec, out / "fast");
  spec.lambda_latency = 0.0;
  const auto plain = run(spec, out / "plain");
  const double fast_ms = fast["derived"]["latency_ms"], plain_ms = plain["derived"]["latency_ms"];
  std::printf("derived latency: %.2f ms with lambda_lat 3, %.2f ms with 0 (genotypes %s / %s)\n",
              fast_ms, plain_ms, fast["genotype"].dump().c_str(), plain["genotype"].dump().c_str());
  EXPECT_LT(fast_ms, plain_ms);
  EXPECT_LT(fast["derived"]["lut_latency_ms"].get<double>(),
            plain["derived"]["lut_latency_ms"].get<double>());
  EXPECT_LT(fast["derived"]["params"].get<int64_t>(), fast["baseline"]["params"].get<int64_t>());
}

TEST_F(SearchTest, StartsFromAPretrainedNafnet) {
  test::TempDir out;
  auto spec = tiny_spec();
  spec.warmup_steps = 0;
  spec.search_steps = 20;
  const auto pretrained = out / "pretrained";
  const auto init =
      test::run({(test::bin_dir() / "ernctl").string(), "model", "init", "--width", "8", "--enc",
                 "1,1", "--middle", "1", "--dec", "1,1", "-o", pretrained.string()});
  ASSERT_EQ(init.exit_code, 0) << init.output;
  // Mark the pretrained weights: a value no random initialization gives, and that 23 small
  // optimizer steps (lr 1e-3) cannot wash out.
  auto weights = read_safetensors(pretrained / kWeightsFile);
  for (auto& [name, tensor] : weights) {
    if (name == "middle_blks.0.beta") tensor.fill_(5.0);
  }
  write_safetensors(pretrained / kWeightsFile, weights);
  spec.init_model = pretrained;
  run(spec, out / "job");
  auto derived = load_model_dir(out / "job");
  const auto beta = derived.network->named_parameters()["middle_blks.0.beta"];
  EXPECT_NEAR(beta.mean().item<double>(), 5.0, 0.1)
      << "the search started from the pretrained weights";
}

TEST_F(SearchTest, SearchesForATableDevice) {
  test::TempDir out;
  auto spec = tiny_spec();
  spec.device = "phone";
  spec.search_steps = 60;
  spec.lambda_latency = 3.0;
  const auto report = run(spec, out / "job");
  for (const char* network : {"baseline", "derived"}) {
    EXPECT_EQ(report[network]["latency_source"], "lut") << network;
    EXPECT_TRUE(report[network]["peak_memory_bytes"].is_null()) << network;
  }
  EXPECT_DOUBLE_EQ(report["baseline"]["latency_ms"].get<double>(), 40.0);  // 4 blocks of 10 ms
  EXPECT_LT(report["derived"]["latency_ms"].get<double>(), 40.0);
}

TEST_F(SearchTest, InterruptedSearchResumesFromItsCheckpoint) {
  test::TempDir out;
  const auto spec = tiny_spec();
  struct Interrupted {};
  try {
    run(spec, out / "job", [](const SearchProgress& p) {
      if (p.stage == "SEARCH" && p.step == 75) throw Interrupted{};
    });
    FAIL() << "not interrupted";
  } catch (const Interrupted&) {
  }
  ASSERT_TRUE(fs::exists(out / "job" / "work" / "search-state.safetensors"));
  // The search goes on with the latencies it started with, not what the farm says now (its host
  // may have changed): mark them to tell them apart.
  const fs::path saved_table = out / "job" / "work" / "latency-table.json";
  auto table = nlohmann::json::parse(std::ifstream(saved_table));
  ASSERT_EQ(table["rows"].size(), 4u * (spec.alternatives.size() + 1));
  for (auto& row : table["rows"]) row[4] = row[4].get<double>() + 1000.0;
  std::ofstream(saved_table) << table.dump();
  int64_t first_search_step = -1;
  const auto report = run(spec, out / "job", [&](const SearchProgress& p) {
    if (p.stage == "SEARCH" && first_search_step < 0) first_search_step = p.step;
    EXPECT_NE(p.stage, "WARMUP") << "warm-up was already done";
  });
  EXPECT_EQ(first_search_step, 71)
      << "resumes after the last checkpoint (search step 70, 80 overall)";
  expect_complete_report(report, 4);
  EXPECT_EQ(report["search"]["history"].back()["step"], spec.warmup_steps + spec.search_steps);
  for (const auto& row : report["search"]["latency_table_ms"]) {
    for (const auto& ms : row) EXPECT_GT(ms.get<double>(), 1000.0) << "the saved table is used";
  }
}

TEST_F(SearchTest, SpecErrorsNameTheField) {
  test::TempDir out;
  const auto message_of = [&](const std::string& yaml) -> std::string {
    std::ofstream(out / "spec.yaml") << yaml;
    try {
      auto spec = load_search_spec(out / "spec.yaml");
      run(spec, out / "never");
    } catch (const std::exception& error) {
      return error.what();
    }
    return "";
  };
  EXPECT_NE(message_of("alternatives: [naf, naf_turbo]\n").find("naf_turbo"), std::string::npos);
  EXPECT_NE(message_of("training: {patch: 0}\n").find("training.patch"), std::string::npos);
  EXPECT_NE(message_of("search: {lambda_latency: .nan}\n").find("search.lambda_latency"),
            std::string::npos);
  EXPECT_NE(message_of("architecture: {width: -16}\n").find("width"), std::string::npos);
  EXPECT_NE(message_of("stages: {search_steps: 0}\n").find("stages.search_steps"),
            std::string::npos);
  EXPECT_NE(message_of("colour: red\n").find("colour: unknown field"), std::string::npos);
  // Review findings: overflowing steps, infinite temperatures, bad sigmas, names that are paths,
  // and steps too large for any worker.
  EXPECT_NE(message_of("stages: {search_steps: 4611686018427387904}\n").find("stages.search_steps"),
            std::string::npos);
  EXPECT_NE(message_of("search: {gumbel: {temperature_end: .inf}}\n").find("search.gumbel"),
            std::string::npos);
  EXPECT_NE(message_of("search: {temperature: {start: 1, end: 0}}\n").find("search.temperature"),
            std::string::npos);
  EXPECT_NE(message_of("search: {temperature: {end: 0.1}, gumbel: {enabled: true}}\n")
                .find("search.temperature"),
            std::string::npos);
  for (const char* sigmas : {"[.nan]", "[-5]", "[1e308]"}) {
    EXPECT_NE(
        message_of(std::string("evaluation: {sigmas: ") + sigmas + "}\n").find("evaluation.sigmas"),
        std::string::npos)
        << sigmas;
  }
  EXPECT_NE(message_of("name: ../../etc\n").find("name:"), std::string::npos);
  EXPECT_NE(message_of("name: \"two\\nlines\"\n").find("name:"), std::string::npos);
  // H4/H5: a spec's own size and its step's estimated memory are bounded before anything runs.
  EXPECT_NE(message_of("# " + std::string(70000, 'x') + "\n").find("a spec may have at most"),
            std::string::npos);
  EXPECT_NE(message_of("architecture: {width: 64, encoder_blocks: [8, 8, 8, 8], middle_blocks: 12,"
                       " decoder_blocks: [8, 8, 8, 8]}\ntraining: {batch: 64, patch: 256}\n")
                .find("GiB per step"),
            std::string::npos);
  EXPECT_NE(message_of("architecture: {width: 1024}\n").find("parameters; at most"),
            std::string::npos);
  EXPECT_NE(message_of("training: {batch: 1024, patch: 2048}\n").find("batch x patch"),
            std::string::npos);
  fs::create_directories(out / "empty" / "train");
  fs::create_directories(out / "empty" / "val");
  const std::string farm_device =
      "device: cpu-1t\narchitecture: {width: 8, encoder_blocks: [1], middle_blocks: 1, "
      "decoder_blocks: [1]}\ntraining: {patch: 32}\n";
  EXPECT_NE(
      message_of(farm_device + "data: " + (out / "empty").string() + "\n").find("holds no images"),
      std::string::npos);
  EXPECT_NE(
      message_of("device: tpu-9\ndata: " + test::test_data_dir().string() + "\n").find("tpu-9"),
      std::string::npos);
}

}  // namespace
}  // namespace ern

namespace ern {
namespace {

TEST(SearchSpecs, ShippedSpecsAreValid) {
  for (const char* name : {"configs/search/demo.yaml", "configs/search/nafnet-sidd.yaml",
                           "configs/search/ern-net.yaml"}) {
    const auto spec = load_search_spec(test::source_dir() / name);
    EXPECT_EQ(spec.alternatives.size(), 5u) << name;
  }
  EXPECT_EQ(load_search_spec(test::source_dir() / "configs/search/nafnet-sidd.yaml")
                .architecture.searchable_blocks()
                .size(),
            24u);
}

}  // namespace
}  // namespace ern
