#pragma once
// What serving a model in a reduced precision costs in quality and buys in speed: mean PSNR at
// one noise level on a set of photographs through the fused engine in fp32 and in the reduced
// precision, on the same noisy images, and both engines' forward time at 256x256.
// `ernctl model export --precision` offers a precision only within both bounds.

#include <filesystem>
#include <vector>

#include "inference/int8_calibration.h"
#include "inference/precision.h"
#include "model/model_dir.h"

namespace ern::inference {

inline constexpr double kMaxPrecisionLossDb = 0.05;  // at sigma 25
// Against the fp32 engine, itself about 1.3x the best fp32 peer (frozen TorchScript): 1.5x makes
// a reduced precision about 2x that peer, the bar for offering it.
inline constexpr double kMinPrecisionSpeedup = 1.5;

struct PrecisionCost {
  double fp32_psnr = 0.0;
  double reduced_psnr = 0.0;
  int images = 0;
  double fp32_ms = 0.0;  // median forward at 256x256, batch 1
  double reduced_ms = 0.0;
  double change_db() const { return reduced_psnr - fp32_psnr; }
  double speedup() const { return fp32_ms / reduced_ms; }
};

// `calibration` for int8 (serving_engine.h's calibrate_int8, on other photographs than
// `images`). Throws std::invalid_argument when `precision` does not run natively on this CPU (its
// cost could not be measured here).
PrecisionCost measure_precision_cost(LoadedModel& model, Precision precision,
                                     const Int8Calibration& calibration,
                                     const std::vector<std::filesystem::path>& images,
                                     double sigma = 25.0, uint64_t seed = 0);

}  // namespace ern::inference
