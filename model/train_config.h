#pragma once
// Training options from YAML (e.g. configs/train/demo.yaml). Every key is optional and defaults to
// TrainOptions' value; an unknown key or a bad value is an error that names it.

#include <filesystem>

#include "model/trainer.h"

namespace ern {

TrainOptions load_train_options(const std::filesystem::path& yaml_file);

}  // namespace ern
