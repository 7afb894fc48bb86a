#include "model/training_checkpoint.h"

#include <charconv>
#include <stdexcept>

#include "model/model_dir.h"

namespace ern {
namespace {

constexpr char kRandomState[] = "random_state";

bool has_prefix(const std::string& name, const std::string& prefix) {
  return name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
         name[prefix.size()] == '.';
}

std::string state_key(const torch::Tensor& parameter) {
  // The key LibTorch's optimizers file a parameter's state under.
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

std::string slot(const std::string& prefix, size_t group, size_t index) {
  return prefix + "." + std::to_string(group) + "." + std::to_string(index);
}

// Adam and AdamW keep the same fields in two distinct state types.
template <typename Optimizer, typename State>
bool add_adam_states(torch::optim::Optimizer& optimizer, const std::string& prefix,
                     NamedTensors& tensors) {
  if (dynamic_cast<Optimizer*>(&optimizer) == nullptr) return false;
  const auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t i = 0; i < groups[g].params().size(); ++i) {
      const auto found = optimizer.state().find(state_key(groups[g].params()[i]));
      if (found == optimizer.state().end()) continue;
      const auto& state = static_cast<const State&>(*found->second);
      const auto name = slot(prefix, g, i);
      tensors.emplace_back(name + ".step", torch::tensor(state.step(), torch::kInt64));
      tensors.emplace_back(name + ".exp_avg", state.exp_avg());
      tensors.emplace_back(name + ".exp_avg_sq", state.exp_avg_sq());
      if (state.max_exp_avg_sq().defined())
        tensors.emplace_back(name + ".max_exp_avg_sq", state.max_exp_avg_sq());
    }
  }
  return true;
}

template <typename Optimizer, typename State>
bool load_adam_states(torch::optim::Optimizer& optimizer, const std::string& prefix,
                      const std::map<std::string, torch::Tensor>& tensors,
                      const std::string& where) {
  if (dynamic_cast<Optimizer*>(&optimizer) == nullptr) return false;
  const auto like = [&](const std::string& name, const torch::Tensor& parameter) {
    const auto found = tensors.find(name);
    if (found == tensors.end()) throw std::runtime_error(where + ": '" + name + "' is missing");
    if (found->second.sizes() != parameter.sizes() ||
        found->second.scalar_type() != parameter.scalar_type()) {
      throw std::runtime_error(where + ": '" + name + "' does not match its parameter's shape");
    }
    return found->second.to(parameter.device()).clone();
  };
  size_t consumed = 0;
  optimizer.state().clear();
  const auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t i = 0; i < groups[g].params().size(); ++i) {
      const auto& parameter = groups[g].params()[i];
      const auto name = slot(prefix, g, i);
      const auto step = tensors.find(name + ".step");
      if (step == tensors.end()) continue;  // this parameter has not taken a step yet
      if (step->second.numel() != 1 || step->second.scalar_type() != torch::kInt64 ||
          step->second.item<int64_t>() < 0) {
        throw std::runtime_error(where + ": '" + name + ".step' is not a step count");
      }
      auto state = std::make_unique<State>();
      state->step(step->second.item<int64_t>());
      state->exp_avg(like(name + ".exp_avg", parameter));
      state->exp_avg_sq(like(name + ".exp_avg_sq", parameter));
      consumed += 3;
      if (tensors.count(name + ".max_exp_avg_sq")) {
        state->max_exp_avg_sq(like(name + ".max_exp_avg_sq", parameter));
        ++consumed;
      }
      optimizer.state()[state_key(parameter)] = std::move(state);
    }
  }
  size_t stored = 0;
  for (const auto& item : tensors) stored += has_prefix(item.first, prefix);
  if (stored != consumed) {
    throw std::runtime_error(where + ": '" + prefix + "' holds state for " +
                             "parameters this optimizer does not have");
  }
  return true;
}

}  // namespace

void CheckpointWriter::add_module(const std::string& prefix, torch::nn::Module& module) {
  for (auto& [name, tensor] : named_tensors_of(module))
    tensors_.emplace_back(prefix + "." + name, tensor);
}

void CheckpointWriter::add_optimizer(const std::string& prefix,
                                     torch::optim::Optimizer& optimizer) {
  if (!add_adam_states<torch::optim::Adam, torch::optim::AdamParamState>(optimizer, prefix,
                                                                         tensors_) &&
      !add_adam_states<torch::optim::AdamW, torch::optim::AdamWParamState>(optimizer, prefix,
                                                                           tensors_)) {
    throw std::invalid_argument("checkpoint: only Adam and AdamW states are stored");
  }
}

void CheckpointWriter::add_text(const std::string& key, const std::string& value) {
  metadata_[key] = value;
}

void CheckpointWriter::add_integer(const std::string& key, int64_t value) {
  metadata_[key] = std::to_string(value);
}

void CheckpointWriter::add_random_state() {
  tensors_.emplace_back(kRandomState, at::detail::getDefaultCPUGenerator().get_state());
}

void CheckpointWriter::write(const std::filesystem::path& path) const {
  write_safetensors(path, tensors_, metadata_);
}

CheckpointReader::CheckpointReader(const std::filesystem::path& path) : where_(path.string()) {
  if (!std::filesystem::exists(path)) throw std::runtime_error(where_ + ": no such checkpoint");
  auto file = read_safetensors_file(path);
  tensors_.insert(file.tensors.begin(), file.tensors.end());
  metadata_ = std::move(file.metadata);
}

void CheckpointReader::load_module(const std::string& prefix, torch::nn::Module& module) const {
  NamedTensors named;
  for (const auto& [name, tensor] : tensors_) {
    if (has_prefix(name, prefix)) named.emplace_back(name.substr(prefix.size() + 1), tensor);
  }
  load_named_tensors(module, named, where_ + ": " + prefix);
}

void CheckpointReader::load_optimizer(const std::string& prefix,
                                      torch::optim::Optimizer& optimizer) const {
  if (!load_adam_states<torch::optim::Adam, torch::optim::AdamParamState>(optimizer, prefix,
                                                                          tensors_, where_) &&
      !load_adam_states<torch::optim::AdamW, torch::optim::AdamWParamState>(optimizer, prefix,
                                                                            tensors_, where_)) {
    throw std::invalid_argument("checkpoint: only Adam and AdamW states are stored");
  }
}

const std::string& CheckpointReader::text(const std::string& key) const {
  const auto found = metadata_.find(key);
  if (found == metadata_.end()) throw std::runtime_error(where_ + ": '" + key + "' is missing");
  return found->second;
}

int64_t CheckpointReader::integer(const std::string& key) const {
  const auto& value = text(key);
  int64_t parsed = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (error != std::errc() || end != value.data() + value.size()) {
    throw std::runtime_error(where_ + ": '" + key + "' is not an integer");
  }
  return parsed;
}

int64_t CheckpointReader::integer(const std::string& key, int64_t min, int64_t max) const {
  const int64_t value = integer(key);
  if (value < min || value > max) {
    throw std::runtime_error(where_ + ": '" + key + "' is not in " + std::to_string(min) + ".." +
                             std::to_string(max));
  }
  return value;
}

const torch::Tensor& CheckpointReader::tensor(const std::string& name) const {
  const auto found = tensors_.find(name);
  if (found == tensors_.end()) throw std::runtime_error(where_ + ": '" + name + "' is missing");
  return found->second;
}

void CheckpointReader::restore_random_state() const {
  const auto& state = tensor(kRandomState);
  if (state.scalar_type() != torch::kUInt8 || state.dim() != 1) {
    throw std::runtime_error(where_ + ": '" + kRandomState + "' is not a generator state");
  }
  auto generator = at::detail::getDefaultCPUGenerator();
  try {
    generator.set_state(state);
  } catch (const c10::Error&) {
    throw std::runtime_error(where_ + ": '" + kRandomState + "' is not a generator state");
  }
}

}  // namespace ern
