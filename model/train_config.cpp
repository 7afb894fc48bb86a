#include "model/train_config.h"

#include <set>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

namespace ern {
namespace {

template <typename T>
void read_field(const YAML::Node& root, const char* key, T& target, const std::string& where) {
  const auto node = root[key];
  if (!node) return;
  try {
    target = node.as<T>();
  } catch (const YAML::Exception&) {
    throw std::invalid_argument(where + ": " + key + ": bad value '" + YAML::Dump(node) + "'");
  }
}

}  // namespace

TrainOptions load_train_options(const std::filesystem::path& yaml_file) {
  const std::string where = yaml_file.string();
  YAML::Node root;
  try {
    root = YAML::LoadFile(where);
  } catch (const YAML::BadFile&) {
    throw std::runtime_error(where + ": cannot read");
  } catch (const YAML::Exception& error) {
    throw std::invalid_argument(where + ": " + error.what());
  }
  if (!root.IsMap())
    throw std::invalid_argument(where + ": expected a mapping of training options");

  static const std::set<std::string> known = {
      "iterations", "batch",        "patch",  "learning_rate", "min_learning_rate",
      "betas",      "weight_decay", "sigmas", "seed"};
  for (const auto& entry : root) {
    const auto key = entry.first.as<std::string>();
    if (!known.count(key)) throw std::invalid_argument(where + ": unknown key '" + key + "'");
  }
  TrainOptions options;
  read_field(root, "iterations", options.iterations, where);
  read_field(root, "batch", options.batch, where);
  read_field(root, "patch", options.patch, where);
  read_field(root, "learning_rate", options.learning_rate, where);
  read_field(root, "min_learning_rate", options.min_learning_rate, where);
  read_field(root, "weight_decay", options.weight_decay, where);
  read_field(root, "sigmas", options.sigmas, where);
  read_field(root, "seed", options.seed, where);
  std::vector<double> betas{options.beta1, options.beta2};
  read_field(root, "betas", betas, where);
  if (betas.size() != 2) throw std::invalid_argument(where + ": betas: expected two numbers");
  options.beta1 = betas[0];
  options.beta2 = betas[1];
  try {
    options.validate();
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(where + ": " + error.what());
  }
  return options;
}

}  // namespace ern
