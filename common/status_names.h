#pragma once
// gRPC status codes by their canonical names ("PERMISSION_DENIED"), for messages and the audit log.

#include <grpcpp/grpcpp.h>

#include <string>

namespace ern {

std::string status_code_name(grpc::StatusCode code);

}  // namespace ern
