#include "server/call_authority.h"

namespace ern::server {

void CallAuthority::audit(const auth::Identity& caller, const char* method,
                          const std::string& target, const grpc::Status& status) {
  try {
    audit_.record(caller, method, target, status);
  } catch (const std::exception& error) {
    spdlog::error("audit log: cannot record {} by {}: {}", method, caller.token_id, error.what());
  }
}

}  // namespace ern::server
