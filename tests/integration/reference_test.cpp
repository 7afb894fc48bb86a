// The C++ NAFNet against the reference PyTorch implementation (tests/python/nafnet_reference.py)
// with the same random weights, imported from a torch.save'd checkpoint as released ones are.

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "model/checkpoint_import.h"
#include "model/model_dir.h"
#include "tests/test_support.h"

namespace ern {
namespace {

struct ReferenceCase {
  NafnetArchitecture architecture;
  int height, width;
};

torch::Tensor tensor_named(const NamedTensors& tensors, const std::string& name) {
  for (const auto& [key, value] : tensors) {
    if (key == name) return value;
  }
  throw std::runtime_error("no tensor " + name);
}

std::string join(const std::vector<int>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + std::to_string(values[i]);
  return out;
}

void generate_reference(const test::TempDir& dir, const ReferenceCase& c) {
  const auto result = test::run(
      {test::python(), (test::source_dir() / "tests/python/nafnet_reference.py").string(),
       dir.path().string(), "--width", std::to_string(c.architecture.width), "--enc",
       join(c.architecture.encoder_blocks), "--middle",
       std::to_string(c.architecture.middle_blocks), "--dec", join(c.architecture.decoder_blocks),
       "--height", std::to_string(c.height), "--width-px", std::to_string(c.width)});
  ASSERT_EQ(result.exit_code, 0) << result.output;
}

TEST(Reference, ImportedCheckpointReproducesReferenceOutputs) {
  NafnetArchitecture a;
  a.width = 16;
  a.encoder_blocks = {1, 2, 1, 1};
  a.middle_blocks = 2;
  a.decoder_blocks = {1, 1, 2, 1};
  NafnetArchitecture b;
  b.width = 8;
  b.encoder_blocks = {2, 1};
  b.middle_blocks = 1;
  b.decoder_blocks = {1, 2};
  for (const auto& c : {ReferenceCase{a, 45, 61}, ReferenceCase{b, 32, 32}}) {
    test::TempDir dir;
    generate_reference(dir, c);
    Nafnet network(c.architecture);
    load_named_tensors(*network, read_reference_checkpoint(dir / "checkpoint.pth"), "checkpoint");
    network->eval();
    const auto io = read_safetensors(dir / "io.safetensors");
    torch::NoGradGuard no_grad;
    const auto output = network->forward(tensor_named(io, "input"));
    const double max_difference = (output - tensor_named(io, "output")).abs().max().item<double>();
    std::printf("%s: max |C++ - reference| = %.3g\n", c.architecture.describe().c_str(),
                max_difference);
    EXPECT_LT(max_difference, 1e-4) << c.architecture.describe();
  }
}

TEST(Reference, CheckpointOfAnotherArchitectureIsRejectedByName) {
  test::TempDir dir;
  NafnetArchitecture small;
  small.width = 8;
  small.encoder_blocks = {1, 1};
  small.middle_blocks = 1;
  small.decoder_blocks = {1, 1};
  generate_reference(dir, {small, 16, 16});
  NafnetArchitecture wider = small;
  wider.width = 16;
  Nafnet network(wider);
  try {
    load_named_tensors(*network, read_reference_checkpoint(dir / "checkpoint.pth"), "checkpoint");
    FAIL() << "mismatched checkpoint accepted";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("has shape"), std::string::npos) << error.what();
  }
}

TEST(Reference, UnreadableCheckpointGivesTheConvertersReason) {
  test::TempDir dir;
  std::ofstream(dir / "broken.pth") << "this is not a checkpoint";
  try {
    read_reference_checkpoint(dir / "broken.pth");
    FAIL() << "garbage accepted";
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("broken.pth"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  }
}

}  // namespace
}  // namespace ern
