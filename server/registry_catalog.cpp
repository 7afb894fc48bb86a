#include "server/registry_catalog.h"

#include "common/rpc_error.h"

namespace ern::server {

v1::Model RegistryCatalog::resolve(const std::string& requested) {
  if (!requested.empty()) return store_.model(requested);
  const auto fallback = store_.default_model();
  if (!fallback) {
    throw RpcError(grpc::StatusCode::FAILED_PRECONDITION,
                   "model: none named and no default model is set (ernctl models set-default)");
  }
  return *fallback;
}

std::filesystem::path RegistryCatalog::directory(const v1::Model& model) {
  return artifacts_.model_directory(model.sha256());
}

}  // namespace ern::server
