#pragma once
// What serving a model in a reduced precision costs in quality: mean PSNR at one noise level on a
// set of photographs through the fused engine in fp32 and in the reduced precision, on the same
// noisy images. `ernctl model export --precision` offers a precision only within its bound.

#include <filesystem>
#include <vector>

#include "inference/precision.h"
#include "model/model_dir.h"

namespace ern::inference {

inline constexpr double kMaxPrecisionLossDb = 0.05;  // at sigma 25

struct PrecisionCost {
  double fp32_psnr = 0.0;
  double reduced_psnr = 0.0;
  int images = 0;
  double change_db() const { return reduced_psnr - fp32_psnr; }
};

// Throws std::invalid_argument when `precision` does not run natively on this CPU (its cost could
// not be measured here).
PrecisionCost measure_precision_cost(LoadedModel& model, Precision precision,
                                     const std::vector<std::filesystem::path>& images,
                                     double sigma = 25.0, uint64_t seed = 0);

}  // namespace ern::inference
