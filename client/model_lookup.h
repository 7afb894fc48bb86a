#pragma once
// One registered model from the coordinator, for every ernctl command that reads one.

#include <string>

#include "client/server_connection.h"
#include "ern/v1/models.pb.h"

namespace ern::cli {

// ModelService.GetModel for `id` (an id or a name); a failed call throws as check_rpc does.
v1::Model get_model(const ServerConnection& server, const std::string& id);

}  // namespace ern::cli
