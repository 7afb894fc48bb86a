#pragma once
// The engine a model directory is served with: the fused forward pass in the precision its
// model.json asks for (metadata.serving_precision, fp32 when absent). Denoise, the quality gate
// and `ernctl model export --precision` all build it here, so a score is what Denoise serves.

#include <memory>

#include "inference/fused_nafnet.h"
#include "model/model_dir.h"

namespace ern::inference {

std::unique_ptr<FusedNafnet> serving_engine(LoadedModel& model);

}  // namespace ern::inference
