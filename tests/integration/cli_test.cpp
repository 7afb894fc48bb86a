// ernctl as a user runs it: the real binary, real files, real photographs.

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "inference/precision.h"
#include "model/architecture.h"
#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kTinyFlags = {"--width",  "8", "--enc", "1,1",
                                             "--middle", "1", "--dec", "1,1"};

SubprocessResult ernctl(std::vector<std::string> args) {
  args.insert(args.begin(), (test::bin_dir() / "ernctl").string());
  return test::run(args);
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A failed command says what is wrong on one line and exits non-zero.
void expect_one_line_error(const SubprocessResult& result, const std::string& expected,
                           int status) {
  EXPECT_EQ(result.exit_code, status) << result.output;
  EXPECT_NE(result.output.find(expected), std::string::npos) << result.output;
  EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
}

fs::path val_image() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(test::test_data_dir() / "val"))
    files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  return files.front();
}

TEST(Cli, InitInfoReportsParametersAndMacs) {
  test::TempDir dir;
  auto result = ernctl(concat({"model", "init", "-o", (dir / "m").string()}, kTinyFlags));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  result = ernctl({"model", "info", (dir / "m").string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto json = nlohmann::json::parse(result.output);
  const auto architecture = NafnetArchitecture::from_json(json["architecture"]);
  EXPECT_EQ(architecture.width, 8);
  EXPECT_EQ(json["metadata"]["params"].get<int64_t>(), architecture.expected_parameter_count());
  EXPECT_GT(json["metadata"]["gmacs_256"].get<double>(), 0.0);
  result = ernctl({"model", "info", (dir / "m").string()});
  EXPECT_NE(result.output.find("G MACs"), std::string::npos) << result.output;
}

TEST(Cli, NoiseThenCompareGivesTheExpectedPsnr) {
  test::TempDir dir;
  const auto noisy = (dir / "noisy.png").string();
  auto result =
      ernctl({"noise", val_image().string(), "--sigma", "25", "--seed", "3", "-o", noisy});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  result = ernctl({"compare", val_image().string(), noisy, "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto json = nlohmann::json::parse(result.output);
  // sigma 25 white noise: 20.17 dB before clipping; clipping at 0 and 255 only lowers the error.
  EXPECT_GT(json["psnr"].get<double>(), 20.0);
  EXPECT_LT(json["psnr"].get<double>(), 21.5);
  EXPECT_LT(json["ssim"].get<double>(), 0.9);
  // The same seed gives the same noise.
  const auto again = (dir / "again.png").string();
  ernctl({"noise", val_image().string(), "--sigma", "25", "--seed", "3", "-o", again});
  result = ernctl({"compare", noisy, again, "--json"});
  EXPECT_TRUE(nlohmann::json::parse(result.output)["psnr"].is_null()) << "identical images";
}

TEST(Cli, TrainDenoiseAndEvaluateATinyModel) {
  test::TempDir dir;
  const auto model = (dir / "model").string(), trained = (dir / "trained").string();
  ASSERT_EQ(ernctl(concat({"model", "init", "-o", model}, kTinyFlags)).exit_code, 0);
  auto result =
      ernctl({"train", "--model", model, "--data", test::test_data_dir().string(), "--iters", "6",
              "--patch", "32", "--batch", "2", "--checkpoint-every", "3", "-o", trained});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("step 6/6"), std::string::npos) << result.output;
  EXPECT_TRUE(fs::exists(fs::path(trained) / "model.json"));
  EXPECT_TRUE(fs::exists(fs::path(trained) / "train-state.safetensors"));

  result = ernctl({"train", "--model", model, "--data", test::test_data_dir().string(), "--iters",
                   "6", "--patch", "32", "--batch", "2", "--resume", "-o", trained});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("resumed from"), std::string::npos) << result.output;

  const auto output = (dir / "out.jpg").string();
  result = ernctl({"denoise", "--local", trained, val_image().string(), "-o", output, "--tile",
                   "128", "--overlap", "16"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const cv::Mat in = cv::imread(val_image().string()), out = cv::imread(output);
  EXPECT_EQ(in.size(), out.size());

  fs::create_directories(dir / "eval");
  cv::Mat small;
  cv::resize(in, small, cv::Size(96, 80));
  cv::imwrite((dir / "eval" / "a.png").string(), small);
  result = ernctl({"eval", "--local", trained, "--images", (dir / "eval").string(), "--sigma",
                   "15,50", "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto json = nlohmann::json::parse(result.output);
  for (const char* sigma : {"15", "50"}) {
    ASSERT_TRUE(json.contains(sigma)) << result.output;
    EXPECT_EQ(json[sigma]["images"], 1);
    for (const char* key : {"noisy", "model", "nlm"})
      EXPECT_GT(json[sigma][key]["psnr"].get<double>(), 5.0);
  }
  EXPECT_GT(json["15"]["noisy"]["psnr"].get<double>(), json["50"]["noisy"]["psnr"].get<double>());
}

TEST(Cli, DeriveAndExportKeepTheBaseWeights) {
  test::TempDir dir;
  ASSERT_EQ(ernctl(concat({"model", "init", "-o", (dir / "base").string()}, kTinyFlags)).exit_code,
            0);
  const auto derived = ernctl({"model", "derive", (dir / "base").string(), "--genotype",
                               "naf_lite,skip,naf,naf_noca", "-o", (dir / "child").string()});
  ASSERT_EQ(derived.exit_code, 0) << derived.output;
  const auto info =
      nlohmann::json::parse(ernctl({"model", "info", (dir / "child").string(), "--json"}).output);
  EXPECT_EQ(info["architecture"]["genotype"],
            nlohmann::json({"naf_lite", "skip", "naf", "naf_noca"}));
  EXPECT_EQ(info["metadata"]["provenance"]["source"], "derive");
  // An all-naf child is the base network itself: the same output.
  ASSERT_EQ(ernctl({"model", "derive", (dir / "base").string(), "--genotype", "naf,naf,naf,naf",
                    "-o", (dir / "same").string()})
                .exit_code,
            0);
  ASSERT_EQ(
      ernctl({"model", "export", (dir / "same").string(), "--fp16", "-o", (dir / "half").string()})
          .exit_code,
      0);
  ASSERT_EQ(
      ernctl({"noise", val_image().string(), "--sigma", "25", "-o", (dir / "noisy.png").string()})
          .exit_code,
      0);
  for (const char* model : {"base", "same", "half"}) {
    ASSERT_EQ(ernctl({"denoise", "--local", (dir / model).string(), (dir / "noisy.png").string(),
                      "-o", (dir / (std::string(model) + ".png")).string()})
                  .exit_code,
              0);
  }
  const auto same = nlohmann::json::parse(
      ernctl({"compare", (dir / "base.png").string(), (dir / "same.png").string(), "--json"})
          .output);
  EXPECT_TRUE(same["psnr"].is_null()) << same.dump() << ": identical images have no finite PSNR";
  const auto half = nlohmann::json::parse(
      ernctl({"compare", (dir / "base.png").string(), (dir / "half.png").string(), "--json"})
          .output);
  EXPECT_TRUE(half["psnr"].is_null() || half["psnr"].get<double>() > 40.0) << half.dump();

  expect_one_line_error(ernctl({"model", "derive", (dir / "base").string(), "--genotype",
                                "naf,skip", "-o", (dir / "bad").string()}),
                        "--genotype: 2 alternatives given", 2);
  expect_one_line_error(ernctl({"model", "derive", (dir / "base").string(), "--genotype",
                                "naf,skip,warp,naf", "-o", (dir / "bad").string()}),
                        "warp", 2);
  expect_one_line_error(ernctl({"model", "derive", (dir / "child").string(), "--genotype",
                                "naf,naf,naf,naf", "-o", (dir / "bad").string()}),
                        "already derived", 2);
}

TEST(Cli, ExportMeasuresABf16ServingPrecisionBeforeWritingIt) {
  test::TempDir dir;
  const auto base = (test::source_dir() / "models" / "nafnet-base").string();
  const auto images = (test::test_data_dir() / "val").string();
  // --min-speedup 0: the quality bound alone (the speed bound is a timing, not for a test).
  const auto exported =
      ernctl({"model", "export", base, "--fp16", "--precision", "bf16", "--images", images,
              "--min-speedup", "0", "-o", (dir / "bf16").string()});
  if (!inference::cpu_has_native_bf16()) {
    expect_one_line_error(exported, "does not run natively on this CPU", 2);
    EXPECT_FALSE(fs::exists(dir / "bf16")) << "nothing written for a refused precision";
  } else {
    ASSERT_EQ(exported.exit_code, 0) << exported.output;
    EXPECT_NE(exported.output.find("bf16 changes PSNR by"), std::string::npos) << exported.output;
    const auto info =
        nlohmann::json::parse(ernctl({"model", "info", (dir / "bf16").string(), "--json"}).output);
    EXPECT_EQ(info["metadata"]["serving_precision"], "bf16");
  }
  expect_one_line_error(
      ernctl({"model", "export", base, "--precision", "fp8", "-o", (dir / "fp8").string()}),
      "--precision: 'fp8' is not one of fp32, bf16, int8", 2);
  ASSERT_EQ(ernctl({"model", "export", base, "-o", (dir / "fp32").string()}).exit_code, 0);
  const auto info =
      nlohmann::json::parse(ernctl({"model", "info", (dir / "fp32").string(), "--json"}).output);
  EXPECT_EQ(info["metadata"]["serving_precision"], "fp32");
}

TEST(Cli, ExportCalibratesAndMeasuresAnInt8ServingPrecisionBeforeWritingIt) {
  test::TempDir dir;
  const auto base = (test::source_dir() / "models" / "nafnet-base").string();
  // Calibrated on two of the photographs it is measured on (quick; the plumbing is under test).
  fs::create_directories(dir / "calibration");
  std::vector<fs::path> photographs;
  for (const auto& entry : fs::directory_iterator(test::test_data_dir() / "val")) {
    photographs.push_back(entry.path());
  }
  std::sort(photographs.begin(), photographs.end());
  for (size_t i = 0; i < 2; ++i) {
    fs::copy_file(photographs[i], dir / "calibration" / photographs[i].filename());
  }
  const auto exported =
      ernctl({"model", "export", base, "--precision", "int8", "--images",
              (test::test_data_dir() / "val").string(), "--calibration-images",
              (dir / "calibration").string(), "--min-speedup", "0", "-o", (dir / "int8").string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_NE(exported.output.find("int8 changes PSNR by"), std::string::npos) << exported.output;
  const auto info =
      nlohmann::json::parse(ernctl({"model", "info", (dir / "int8").string(), "--json"}).output);
  EXPECT_EQ(info["metadata"]["serving_precision"], "int8");
  const auto architecture = NafnetArchitecture::from_json(info["architecture"]);
  size_t blocks = static_cast<size_t>(architecture.middle_blocks);
  for (const int count : architecture.encoder_blocks) blocks += static_cast<size_t>(count);
  for (const int count : architecture.decoder_blocks) blocks += static_cast<size_t>(count);
  EXPECT_EQ(info["metadata"]["int8_calibration"].size(), blocks) << "every block calibrated";

  // A speed bound this CPU cannot meet: refused, naming the measurements, nothing written.
  const auto refused = ernctl({"model", "export", base, "--precision", "int8", "--images",
                               (test::test_data_dir() / "val").string(), "--calibration-images",
                               (dir / "calibration").string(), "--min-speedup", "100", "-o",
                               (dir / "refused").string()});
  // (libpng may warn about a photograph's colour profile on lines of its own.)
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("as fast as the fp32 LibTorch path at 256x256"), std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("at least 100.00x wanted; the fp32 engine: "), std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find(" ms); keep fp32\n"), std::string::npos) << refused.output;
  EXPECT_FALSE(fs::exists(dir / "refused"));
}

TEST(Cli, BadInputEndsWithOneLineNamingTheProblem) {
  test::TempDir dir;
  std::ofstream(dir / "corrupt.png") << "not an image";
  expect_one_line_error(
      ernctl({"noise", (dir / "missing.png").string(), "-o", (dir / "x.png").string()}),
      "missing.png: no such file", 1);
  expect_one_line_error(
      ernctl({"noise", (dir / "corrupt.png").string(), "-o", (dir / "x.png").string()}),
      "not a readable image", 1);
  expect_one_line_error(ernctl({"model", "init", "--width", "15", "-o", (dir / "m").string()}),
                        "width", 2);
  expect_one_line_error(ernctl({"model", "init", "--enc", "2,x", "-o", (dir / "m").string()}),
                        "--enc", 2);
  expect_one_line_error(ernctl({"model", "info", dir.path().string(), "--colour"}),
                        "unknown flag --colour", 2);
  expect_one_line_error(ernctl({"model", "info", dir.path().string()}), "model.json", 1);
  expect_one_line_error(ernctl({"noise", val_image().string(), "--sigma", "abc", "-o", "x.png"}),
                        "--sigma", 2);
  expect_one_line_error(ernctl({"frobnicate"}), "unknown command", 2);
  expect_one_line_error(ernctl({"denoise", "--local", dir.path().string(), val_image().string(),
                                "-o", (dir / "y.png").string()}),
                        "model.json", 1);
}

TEST(Cli, ImportRejectsACheckpointOfAnotherArchitecture) {
  test::TempDir dir;
  auto result = test::run(
      {test::python(), (test::source_dir() / "tests/python/nafnet_reference.py").string(),
       dir.path().string(), "--width", "8", "--enc", "1,1", "--middle", "1", "--dec", "1,1"});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto checkpoint = (dir / "checkpoint.pth").string();
  result = ernctl(
      concat({"model", "import-nafnet", checkpoint, "-o", (dir / "ok").string()}, kTinyFlags));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  expect_one_line_error(
      ernctl({"model", "import-nafnet", checkpoint, "--width", "8", "--enc", "1,1,1", "--middle",
              "1", "--dec", "1,1,1", "-o", (dir / "bad").string()}),
      "tensor 'encoders.2.0.beta' is missing", 1);
  EXPECT_FALSE(fs::exists(dir / "bad" / "model.json"));
}

}  // namespace
}  // namespace ern
