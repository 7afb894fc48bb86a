#pragma once
// Where the Denoise engine finds models: the coordinator's own registry, or the local mirror of
// it that an ern-serve replica keeps. The engine needs only to resolve what a request names and
// to find the resolved model's unpacked directory.

#include <filesystem>
#include <string>

#include "ern/v1/models.pb.h"

namespace ern::serving {

class ModelCatalog {
 public:
  virtual ~ModelCatalog() = default;

  // `requested`: a model id or name, or empty for the default model. Throws RpcError NOT_FOUND
  // for an unknown model, FAILED_PRECONDITION when none is named and there is no default.
  virtual v1::Model resolve(const std::string& requested) = 0;
  // The unpacked model directory of a model `resolve` returned.
  virtual std::filesystem::path directory(const v1::Model& model) = 0;
};

}  // namespace ern::serving
