#pragma once
// Training checkpoints (a search's state, a training run's state) as safetensors files: named
// tensors and string metadata, nothing else. A checkpoint crosses machines (a worker uploads it,
// the next lease holder of the job resumes from it), so reading one must never run code. A LibTorch
// archive is a TorchScript module read by an unpickler that a crafted file can steer; a
// safetensors file is bytes whose layout is checked before anything is allocated for it.

#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <string>

#include "model/safetensors.h"

namespace ern {

class CheckpointWriter {
 public:
  // Every parameter and buffer, under "PREFIX.<name>".
  void add_module(const std::string& prefix, torch::nn::Module& module);
  // Adam or AdamW moments and step count of every parameter that has taken a step, under
  // "PREFIX.<group>.<index>.<field>" in the order of the optimizer's parameter groups.
  void add_optimizer(const std::string& prefix, torch::optim::Optimizer& optimizer);
  void add_text(const std::string& key, const std::string& value);
  void add_integer(const std::string& key, int64_t value);
  // The default CPU generator's state (noise, crops, dropout), so a resumed run draws the same.
  void add_random_state();
  // Atomic (temporary file, then rename).
  void write(const std::filesystem::path& path) const;

 private:
  NamedTensors tensors_;
  std::map<std::string, std::string> metadata_;
};

// Every method throws std::runtime_error "<path>: ..." naming what is missing or does not fit.
class CheckpointReader {
 public:
  explicit CheckpointReader(const std::filesystem::path& path);

  void load_module(const std::string& prefix, torch::nn::Module& module) const;
  void load_optimizer(const std::string& prefix, torch::optim::Optimizer& optimizer) const;
  const std::string& text(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  // The same, refused unless within [min, max].
  int64_t integer(const std::string& key, int64_t min, int64_t max) const;
  void restore_random_state() const;

 private:
  const torch::Tensor& tensor(const std::string& name) const;

  std::string where_;
  std::map<std::string, torch::Tensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace ern
