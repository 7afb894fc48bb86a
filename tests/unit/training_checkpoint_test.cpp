// Training checkpoints hold tensors and strings only (M10: a worker resumes from a checkpoint
// another lease holder uploaded, so reading one must not unpickle a LibTorch archive).
#include "model/training_checkpoint.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "model/dataset.h"
#include "model/nafnet.h"
#include "model/trainer.h"
#include "tests/test_support.h"

namespace ern {
namespace {

const NafnetArchitecture kTiny{3, 8, {1, 1}, 1, {1, 1}, {}};

TrainOptions tiny_options() {
  TrainOptions options;
  options.iterations = 4;
  options.batch = 2;
  options.patch = 32;
  options.seed = 3;
  return options;
}

TEST(TrainingCheckpoint, ModuleOptimizerTextAndRandomStateRoundTrip) {
  test::TempDir dir;
  torch::manual_seed(5);
  Nafnet network(kTiny);
  torch::optim::Adam optimizer(network->parameters(), torch::optim::AdamOptions(1e-3));
  optimizer.zero_grad();
  network->forward(torch::rand({1, 3, 16, 16})).mean().backward();
  optimizer.step();

  CheckpointWriter writer;
  writer.add_module("model", *network);
  writer.add_optimizer("optimizer", optimizer);
  writer.add_text("note", "a: \"b\"\n");
  writer.add_integer("step", -42);
  writer.add_random_state();
  writer.write(dir / "state.safetensors");
  const auto expected_draw = torch::rand({4});

  torch::manual_seed(99);
  Nafnet restored(kTiny);
  torch::optim::Adam restored_optimizer(restored->parameters(), torch::optim::AdamOptions(1e-3));
  CheckpointReader reader(dir / "state.safetensors");
  reader.load_module("model", *restored);
  reader.load_optimizer("optimizer", restored_optimizer);
  EXPECT_EQ(reader.text("note"), "a: \"b\"\n");
  EXPECT_EQ(reader.integer("step"), -42);
  reader.restore_random_state();
  EXPECT_TRUE(torch::equal(torch::rand({4}), expected_draw));

  const auto before = network->named_parameters();
  for (const auto& item : restored->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), before[item.key()])) << item.key();
  }
  ASSERT_EQ(restored_optimizer.state().size(), optimizer.state().size());
  const auto& original = optimizer.param_groups()[0].params();
  const auto& loaded = restored_optimizer.param_groups()[0].params();
  for (size_t i = 0; i < original.size(); ++i) {
    const auto& a = static_cast<torch::optim::AdamParamState&>(
        *optimizer.state().at(c10::guts::to_string(original[i].unsafeGetTensorImpl())));
    const auto& b = static_cast<torch::optim::AdamParamState&>(
        *restored_optimizer.state().at(c10::guts::to_string(loaded[i].unsafeGetTensorImpl())));
    EXPECT_EQ(a.step(), b.step());
    EXPECT_TRUE(torch::equal(a.exp_avg(), b.exp_avg()));
    EXPECT_TRUE(torch::equal(a.exp_avg_sq(), b.exp_avg_sq()));
  }
}

TEST(TrainingCheckpoint, ALibTorchArchiveIsRefusedUnread) {
  // A complete training state in the LibTorch archive layout checkpoints used to have: a
  // TorchScript module, which the unpickler would have run. It is not a safetensors file.
  test::TempDir dir;
  Nafnet network(kTiny);
  SyntheticNoiseData data(test::test_data_dir() / "train", {25}, 1, 32);
  Trainer trainer(network, data, tiny_options(), torch::kCPU);
  torch::serialize::OutputArchive archive, model;
  network->save(model);
  archive.write("model", model);
  archive.write("step", c10::IValue(int64_t{2}));
  archive.write("options", c10::IValue(tiny_options().to_json().dump()));
  archive.save_to((dir / "state.safetensors").string());

  const auto message =
      test::message_of([&] { trainer.load_checkpoint(dir / "state.safetensors"); });
  EXPECT_NE(message.find("header length exceeds the file size"), std::string::npos) << message;
  EXPECT_EQ(trainer.step(), 0);
}

TEST(TrainingCheckpoint, TensorsThatDoNotFitAreRefusedByName) {
  test::TempDir dir;
  Nafnet network(kTiny);
  SyntheticNoiseData data(test::test_data_dir() / "train", {25}, 1, 32);
  Trainer trainer(network, data, tiny_options(), torch::kCPU);
  trainer.run(nullptr, 1, 0, dir / "state.safetensors");

  // Another architecture's weights under the same names.
  auto file = read_safetensors_file(dir / "state.safetensors");
  for (auto& [name, tensor] : file.tensors) {
    if (name == "model.intro.weight") tensor = torch::zeros({1, 2, 3});
  }
  write_safetensors(dir / "bad-shape.safetensors", file.tensors, file.metadata);
  auto message = test::message_of([&] { trainer.load_checkpoint(dir / "bad-shape.safetensors"); });
  EXPECT_NE(message.find("'intro.weight' has shape [1, 2, 3]"), std::string::npos) << message;

  // Optimizer state for a parameter the network does not have.
  file = read_safetensors_file(dir / "state.safetensors");
  file.tensors.emplace_back("optimizer.0.999.step", torch::tensor(int64_t{1}));
  write_safetensors(dir / "extra.safetensors", file.tensors, file.metadata);
  message = test::message_of([&] { trainer.load_checkpoint(dir / "extra.safetensors"); });
  EXPECT_NE(message.find("parameters this optimizer does not have"), std::string::npos) << message;

  // A step that is not a number.
  file = read_safetensors_file(dir / "state.safetensors");
  file.metadata["step"] = "1e9";
  write_safetensors(dir / "bad-step.safetensors", file.tensors, file.metadata);
  message = test::message_of([&] { trainer.load_checkpoint(dir / "bad-step.safetensors"); });
  EXPECT_NE(message.find("'step' is not an integer"), std::string::npos) << message;
}

}  // namespace
}  // namespace ern
