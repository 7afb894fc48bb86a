#include "model/train_config.h"

#include <stdexcept>

#include "common/yaml_config.h"

namespace ern {

TrainOptions load_train_options(const std::filesystem::path& yaml_file) {
  const std::string where = yaml_file.string() + ": ";
  const YAML::Node root = load_yaml_file(yaml_file);
  if (!root.IsMap()) throw std::invalid_argument(where + "expected a mapping of training options");
  reject_unknown_fields(root, where,
                        {"iterations", "batch", "patch", "learning_rate", "min_learning_rate",
                         "betas", "weight_decay", "sigmas", "seed"});
  TrainOptions options;
  read_yaml_field(root, where, "iterations", options.iterations);
  read_yaml_field(root, where, "batch", options.batch);
  read_yaml_field(root, where, "patch", options.patch);
  read_yaml_field(root, where, "learning_rate", options.learning_rate);
  read_yaml_field(root, where, "min_learning_rate", options.min_learning_rate);
  read_yaml_field(root, where, "weight_decay", options.weight_decay);
  read_yaml_field(root, where, "sigmas", options.sigmas);
  read_yaml_field(root, where, "seed", options.seed);
  std::vector<double> betas{options.beta1, options.beta2};
  read_yaml_field(root, where, "betas", betas);
  if (betas.size() != 2) throw std::invalid_argument(where + "betas: expected two numbers");
  options.beta1 = betas[0];
  options.beta2 = betas[1];
  try {
    options.validate();
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(where + error.what());
  }
  return options;
}

}  // namespace ern
