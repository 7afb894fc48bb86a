// Shipped models and the quality gate, with a real coordinator (and, for `promote: true`, a real
// device farm and worker) on loopback: a fresh coordinator registers the shipped models and makes
// the configured one the default; every model is scored on the promotion images; set-default
// refuses a worse model naming both scores, accepts an equal one, and --force overrides; a search
// with `promote: true` becomes the default once it passes the gate.

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class PromotionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Two shipped models: "base" (the configured default) and "other" (another initialization).
    ASSERT_EQ(ernctl({"model", "init", "--width", "8", "--enc", "1,1", "--middle", "1", "--dec",
                      "1,1", "--seed", "1", "-o", (dir_ / "models" / "base").string()})
                  .exit_code,
              0);
    ASSERT_EQ(ernctl({"model", "init", "--width", "8", "--enc", "1,1", "--middle", "1", "--dec",
                      "1,1", "--seed", "2", "-o", (dir_ / "models" / "other").string()})
                  .exit_code,
              0);
    std::ofstream(dir_ / "coordinator.yaml")
        << "shipped_models: {directory: " << (dir_ / "models").string() << ", default: base}\n"
        << "promotion: {images: " << (test::test_data_dir() / "val").string()
        << ", sigma: 25, seed: 0, max_psnr_drop_db: 0.05}\n";
    start_coordinator();
  }

  void start_coordinator() {
    coordinator_.reset();
    coordinator_ = std::make_unique<test::ServerProcess>(
        (test::bin_dir() / "ern-coordinator").string(),
        std::vector<std::string>{"--config", (dir_ / "coordinator.yaml").string(), "--listen",
                                 "127.0.0.1:0", "--data", (dir_ / "coordinator").string(),
                                 "--heartbeat-ms", "300", "--lease-ms", "3000"},
        dir_ / ("coordinator-" + std::to_string(++starts_) + ".log"));
    // ernctl reads the admin token it wrote on first start.
    setenv("ERN_TOKEN", test::admin_token(dir_ / "coordinator").c_str(), 1);
  }

  SubprocessResult ernctl(std::vector<std::string> args) {
    args.insert(args.begin(), (test::bin_dir() / "ernctl").string());
    return test::run(args);
  }

  nlohmann::json models() {
    const auto listed = ernctl({"models", "list", "--json", "--server", coordinator_->address()});
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    return nlohmann::json::parse(listed.output.substr(listed.output.find('[')));
  }

  nlohmann::json model(const std::string& name) {
    for (const auto& entry : models()) {
      if (entry["name"] == name) return entry;
    }
    ADD_FAILURE() << "no model " << name;
    return {};
  }

  // Waits until every registered model has a quality score.
  void wait_until_scored(std::chrono::seconds timeout = 120s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      bool all = true;
      for (const auto& entry : models()) all = all && entry.contains("quality");
      if (all) return;
      std::this_thread::sleep_for(1s);  // each poll starts ernctl (LibTorch loads): not too often
    }
    ADD_FAILURE() << "models not scored in time:\n" << models().dump(2);
  }

  // A copy of `source` whose output is shifted by +0.5 (the ending convolution's bias): far worse.
  fs::path worse_copy_of(const fs::path& source, const std::string& name) {
    const fs::path target = dir_ / name;
    fs::create_directories(target);
    fs::copy_file(source / "model.json", target / "model.json");
    const auto shifted = test::run(
        {test::python(), "-c",
         "import sys; sys.path.insert(0, sys.argv[1]); import ern_safetensors as st\n"
         "tensors = st.read(sys.argv[2])\n"
         "tensors = [(n, t + 0.5 if n == 'ending.bias' else t) for n, t in tensors.items()]\n"
         "st.write(sys.argv[3], tensors)\n",
         (test::source_dir() / "scripts").string(), (source / "weights.safetensors").string(),
         (target / "weights.safetensors").string()});
    EXPECT_EQ(shifted.exit_code, 0) << shifted.output;
    return target;
  }

  test::TempDir dir_;
  int starts_ = 0;
  std::unique_ptr<test::ServerProcess> coordinator_;
};

TEST_F(PromotionTest, FreshCoordinatorRegistersShippedModelsAndScoresThem) {
  const auto listed = models();
  ASSERT_EQ(listed.size(), 2u) << listed.dump(2);
  EXPECT_EQ(model("base")["source"], "shipped");
  EXPECT_TRUE(model("base")["is_default"].get<bool>());
  EXPECT_FALSE(model("other")["is_default"].get<bool>());
  wait_until_scored();
  const auto score = model("base")["quality"];
  EXPECT_EQ(score["sigma"], 25.0);
  EXPECT_EQ(score["images"], 5);
  EXPECT_GT(score["psnr"].get<double>(), 10.0);
  EXPECT_EQ(score["image_set_sha256"].get<std::string>().size(), 64u);

  // A restart keeps the registry as it is: nothing registered twice, scores kept.
  start_coordinator();
  EXPECT_EQ(models().size(), 2u);
  EXPECT_EQ(model("base")["quality"], score);
  EXPECT_TRUE(model("base")["is_default"].get<bool>());
}

TEST_F(PromotionTest, SetDefaultRefusesAWorseModelAcceptsAnEqualOneAndForceOverrides) {
  const auto server = coordinator_->address();
  ASSERT_EQ(ernctl({"models", "import", worse_copy_of(dir_ / "models" / "base", "worse").string(),
                    "--server", server})
                .exit_code,
            0);
  ASSERT_EQ(ernctl({"models", "import", (dir_ / "models" / "base").string(), "--name", "twin",
                    "--server", server})
                .exit_code,
            0);
  wait_until_scored();
  EXPECT_LT(model("worse")["quality"]["psnr"].get<double>(),
            model("base")["quality"]["psnr"].get<double>() - 1.0);

  const auto refused = ernctl({"models", "set-default", "worse", "--server", server});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("quality gate"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("worse"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("base"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find(" dB PSNR"), std::string::npos) << refused.output;
  EXPECT_TRUE(model("base")["is_default"].get<bool>()) << "a refused call changes nothing";

  // The same weights score the same: an equal model passes.
  const auto equal = ernctl({"models", "set-default", "twin", "--server", server});
  EXPECT_EQ(equal.exit_code, 0) << equal.output;
  EXPECT_TRUE(model("twin")["is_default"].get<bool>());

  const auto forced = ernctl({"models", "set-default", "worse", "--force", "--server", server});
  EXPECT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_TRUE(model("worse")["is_default"].get<bool>());
  // Back to a better model: passes the gate.
  EXPECT_EQ(ernctl({"models", "set-default", "base", "--server", server}).exit_code, 0);
}

TEST_F(PromotionTest, SearchWithPromoteBecomesTheDefaultOnceItPassesTheGate) {
  const auto server = coordinator_->address();
  // A far worse default, so the searched model passes the gate however briefly it trained.
  ASSERT_EQ(ernctl({"models", "import", worse_copy_of(dir_ / "models" / "base", "worse").string(),
                    "--server", server})
                .exit_code,
            0);
  wait_until_scored();
  ASSERT_EQ(ernctl({"models", "set-default", "worse", "--force", "--server", server}).exit_code, 0);

  std::ofstream(dir_ / "farm.yaml")
      << "measurement: {warmup_runs: 1, min_runs: 3, max_runs: 10, budget_seconds: 0.2}\n"
         "devices:\n  - {id: cpu-1t, backend: local-cpu, threads: 1}\n";
  test::ServerProcess farm((test::bin_dir() / "ern-devicefarm").string(),
                           {"--config", (dir_ / "farm.yaml").string(), "--listen", "127.0.0.1:0",
                            "--data", (dir_ / "farm").string()},
                           dir_ / "farm.log");
  const auto worker = test::start_test_worker(dir_.path(), server, farm.address(), "w1");
  std::ofstream(dir_ / "spec.yaml") << test::tiny_search_spec(20) << "promote: true\n";
  const auto submitted =
      ernctl({"search", "submit", (dir_ / "spec.yaml").string(), "--watch", "--server", server});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output << worker->log();

  const auto deadline = std::chrono::steady_clock::now() + 120s;
  nlohmann::json searched;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const auto& entry : models()) {
      if (entry["source"] == "search") searched = entry;
    }
    if (searched.value("promotion", "") == "promoted") break;
    std::this_thread::sleep_for(1s);  // each poll starts ernctl (LibTorch loads): not too often
  }
  ASSERT_EQ(searched.value("promotion", ""), "promoted") << searched.dump(2);
  EXPECT_TRUE(searched["is_default"].get<bool>());
  EXPECT_GT(searched["quality"]["psnr"].get<double>(),
            model("worse")["quality"]["psnr"].get<double>());
}

}  // namespace
}  // namespace ern
