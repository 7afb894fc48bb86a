#include "client/model_lookup.h"

#include "ern/v1/models.grpc.pb.h"

namespace ern::cli {

v1::Model get_model(const ServerConnection& server, const std::string& id) {
  v1::GetModelRequest request;
  request.set_id(id);
  v1::Model model;
  check_rpc(
      v1::ModelService::NewStub(server.channel)->GetModel(server.context().get(), request, &model),
      "GetModel", server);
  return model;
}

}  // namespace ern::cli
