#include "inference/serving_engine.h"

namespace ern::inference {

std::unique_ptr<FusedNafnet> serving_engine(LoadedModel& model) {
  return std::make_unique<FusedNafnet>(model.network, serving_precision_of(model.metadata));
}

}  // namespace ern::inference
