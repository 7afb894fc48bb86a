#include "model/model_dir.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "tests/test_support.h"

namespace ern {
namespace {

// image channels, width, encoder blocks, middle blocks, decoder blocks
const NafnetArchitecture kSmall{3, 8, {1, 1}, 1, {1, 1}, {}};

TEST(Safetensors, RoundTripsNamesShapesAndValues) {
  test::TempDir dir;
  NamedTensors tensors = {{"a.weight", torch::randn({3, 4, 1, 1})},
                          {"b", torch::arange(10, torch::kInt64)},
                          {"c", torch::rand({5}).to(torch::kFloat64)}};
  write_safetensors(dir / "x.safetensors", tensors);
  const auto read = read_safetensors(dir / "x.safetensors");
  ASSERT_EQ(read.size(), tensors.size());
  for (size_t i = 0; i < read.size(); ++i) {
    EXPECT_EQ(read[i].first, tensors[i].first);
    EXPECT_TRUE(torch::equal(read[i].second, tensors[i].second)) << read[i].first;
  }
}

TEST(Safetensors, RejectsTruncatedFiles) {
  test::TempDir dir;
  write_safetensors(dir / "x.safetensors", {{"w", torch::randn({64})}});
  std::filesystem::resize_file(dir / "x.safetensors",
                               std::filesystem::file_size(dir / "x.safetensors") - 8);
  const auto message = test::message_of([&] { read_safetensors(dir / "x.safetensors"); });
  EXPECT_NE(message.find("'w'"), std::string::npos) << message;
}

// Shapes whose product is negative or wraps around 64 bits could pass the data_offsets check and
// reach the allocator.
TEST(Safetensors, RejectsShapesThatAreNegativeOrLargerThanTheFile) {
  test::TempDir dir;
  for (const auto& [shape, begin_end, problem] :
       std::vector<std::tuple<std::string, std::string, std::string>>{
           {"[-1, -2]", "[0, 8]", "negative dimension"},
           {"[4294967296, 4294967296]", "[0, 0]", "larger than the file"}}) {
    std::string header =
        R"({"w": {"dtype": "F32", "shape": )" + shape + R"(, "data_offsets": )" + begin_end + "}}";
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string content(8, '\0');
    for (int i = 0; i < 8; ++i) content[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
    content += header + std::string(8, '\0');
    std::ofstream(dir / "x.safetensors", std::ios::binary) << content;
    const auto message = test::message_of([&] { read_safetensors(dir / "x.safetensors"); });
    EXPECT_NE(message.find(problem), std::string::npos) << shape << ": " << message;
  }
}

TEST(ModelDir, SavesAndLoadsIdenticalWeightsAndMetadata) {
  test::TempDir dir;
  Nafnet network(kSmall);
  save_model_dir(dir.path(), network, {{"source", "test"}});
  auto loaded = load_model_dir(dir.path());
  EXPECT_EQ(loaded.architecture, kSmall);
  EXPECT_EQ(loaded.metadata["params"].get<int64_t>(), kSmall.expected_parameter_count());
  EXPECT_GT(loaded.metadata["gmacs_256"].get<double>(), 0.0);
  EXPECT_EQ(loaded.metadata["provenance"]["source"], "test");
  auto x = torch::rand({1, 3, 20, 20});
  torch::NoGradGuard no_grad;
  network->eval();
  EXPECT_TRUE(torch::equal(network->forward(x), loaded.network->forward(x)));
}

TEST(ModelDir, Fp16StorageLoadsAsFp32WithMatchingOutputs) {
  test::TempDir dir;
  Nafnet network(kSmall);
  save_model_dir(dir.path(), network, {{"source", "test"}}, WeightStorage::kFloat16);
  auto loaded = load_model_dir(dir.path());
  EXPECT_EQ(loaded.metadata["weights_dtype"], "F16");
  for (const auto& [name, tensor] : named_tensors_of(*loaded.network)) {
    EXPECT_EQ(tensor.scalar_type(), torch::kFloat32) << name;
  }
  for (const auto& [name, tensor] : read_safetensors(dir / kWeightsFile)) {
    EXPECT_EQ(tensor.scalar_type(), torch::kHalf) << name;
  }
  auto x = torch::rand({1, 3, 32, 32});
  torch::NoGradGuard no_grad;
  network->eval();
  EXPECT_LT((network->forward(x) - loaded.network->forward(x)).abs().max().item<double>(), 1e-2);
}

// Every model shipped in models/: its weights match its architecture, it denoises an image of any
// size to the same size, and its fp16 weights survive a load and save unchanged.
TEST(ShippedModels, LoadWithTheirShapesAndRoundTripFp16) {
  const auto shipped = test::source_dir() / "models";
  int found = 0;
  for (const auto& entry : std::filesystem::directory_iterator(shipped)) {
    if (!std::filesystem::exists(entry.path() / kModelJson)) continue;
    ++found;
    SCOPED_TRACE(entry.path().string());
    auto model = load_model_dir(entry.path());
    EXPECT_EQ(model.metadata["params"].get<int64_t>(), count_parameters(*model.network));
    EXPECT_EQ(model.metadata["weights_dtype"], "F16");
    torch::NoGradGuard no_grad;
    const auto x = torch::rand({1, 3, 45, 61});
    EXPECT_EQ(model.network->forward(x).sizes(), x.sizes());

    test::TempDir copy;
    save_model_dir(copy.path(), model.network, {}, WeightStorage::kFloat16);
    const auto original = read_safetensors(entry.path() / kWeightsFile);
    const auto again = read_safetensors(copy / kWeightsFile);
    ASSERT_EQ(original.size(), again.size());
    for (size_t i = 0; i < original.size(); ++i) {
      EXPECT_TRUE(torch::equal(original[i].second, again[i].second)) << original[i].first;
    }
  }
  EXPECT_GE(found, 1) << "no model directory under " << shipped;
}

TEST(ModelDir, LoadingNamesTheWrongTensor) {
  test::TempDir dir;
  Nafnet network(kSmall);
  save_model_dir(dir.path(), network, {});
  auto tensors = read_safetensors(dir / kWeightsFile);
  for (auto& [name, tensor] : tensors) {
    if (name == "encoders.1.0.conv2.weight") tensor = torch::zeros({3, 1, 3, 3});
  }
  write_safetensors(dir / kWeightsFile, tensors);
  auto message = test::message_of([&] { load_model_dir(dir.path()); });
  EXPECT_NE(message.find("encoders.1.0.conv2.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("[3, 1, 3, 3]"), std::string::npos) << message;

  tensors.erase(tensors.begin());
  write_safetensors(dir / kWeightsFile, tensors);
  message = test::message_of([&] { load_model_dir(dir.path()); });
  EXPECT_NE(message.find("missing"), std::string::npos) << message;
}

TEST(ModelDir, RejectsDirectoriesWithoutModelJson) {
  test::TempDir dir;
  const auto message = test::message_of([&] { load_model_dir(dir.path()); });
  EXPECT_NE(message.find("model.json"), std::string::npos) << message;
  std::ofstream(dir / kModelJson) << "{ not json";
  EXPECT_NE(test::message_of([&] { load_model_dir(dir.path()); }).find("model.json"),
            std::string::npos);
}

// An imported model.json names its weights: only a file inside the directory, and only a regular
// one of bounded size (no /etc/shadow, no ../elsewhere, no /dev/zero behind a link).
TEST(ModelDir, WeightsAreAPlainFileInsideTheDirectory) {
  test::TempDir dir;
  Nafnet network(kSmall);
  save_model_dir(dir.path(), network, {});
  auto json = nlohmann::json::parse(std::ifstream(dir / kModelJson));
  for (const std::string weights : {"/etc/shadow", "../outside.safetensors", "..", ""}) {
    json["weights"] = weights;
    std::ofstream(dir / kModelJson) << json.dump();
    const auto message = test::message_of([&] { load_model_dir(dir.path()); });
    EXPECT_NE(message.find("weights must name a file in the model directory"), std::string::npos)
        << weights << ": " << message;
    EXPECT_EQ(message.find("shadow"), std::string::npos) << "no path is echoed: " << message;
  }
  std::filesystem::create_symlink("/dev/zero", dir / "zero.safetensors");
  json["weights"] = "zero.safetensors";
  std::ofstream(dir / kModelJson) << json.dump();
  EXPECT_NE(test::message_of([&] { load_model_dir(dir.path()); }).find("not a regular file"),
            std::string::npos);
}

}  // namespace
}  // namespace ern
