#pragma once
// What serving a model in a reduced precision costs in quality and buys in speed: mean PSNR at
// one noise level on a set of photographs through the fused engine in fp32 and in the reduced
// precision, on the same noisy images, and the forward time at 256x256 of both engines and of the
// network's own LibTorch path (folded, channels-last), on every core. `ernctl model export
// --precision` offers a precision only within both bounds.

#include <filesystem>
#include <vector>

#include "inference/int8_calibration.h"
#include "inference/precision.h"
#include "model/model_dir.h"

namespace ern::inference {

inline constexpr double kMaxPrecisionLossDb = 0.05;  // at sigma 25
// Against the LibTorch path, the in-process stand-in for the best fp32 peer: on a quiet machine
// ern-bench-inference measures it as fast as a frozen TorchScript module of the same network
// (python3-torch, which the serving process does not load) or faster, at 256x256 to 1024x1024.
inline constexpr double kMinPrecisionSpeedup = 2.0;

struct PrecisionCost {
  double fp32_psnr = 0.0;
  double reduced_psnr = 0.0;
  int images = 0;
  double libtorch_ms = 0.0;  // median forward at 256x256, batch 1
  double fp32_ms = 0.0;
  double reduced_ms = 0.0;
  double change_db() const { return reduced_psnr - fp32_psnr; }
  double speedup() const { return libtorch_ms / reduced_ms; }  // over the fp32 peer
};

// `calibration` for int8 (serving_engine.h's calibrate_int8, on other photographs than
// `images`). Throws std::invalid_argument when `precision` does not run natively on this CPU (its
// cost could not be measured here).
PrecisionCost measure_precision_cost(LoadedModel& model, Precision precision,
                                     const Int8Calibration& calibration,
                                     const std::vector<std::filesystem::path>& images,
                                     double sigma = 25.0, uint64_t seed = 0);

}  // namespace ern::inference
