#include "common/auth/authorizer.h"

#include "common/rpc_error.h"

namespace ern::auth {
namespace {

constexpr std::string_view kScheme = "Bearer ";
// Longer values are not ERN tokens; they are refused before any lookup.
constexpr size_t kMaxTokenBytes = 256;

}  // namespace

std::string bearer_token(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find("authorization");
  if (found == metadata.end()) return {};
  const std::string_view value(found->second.data(), found->second.size());
  if (value.size() <= kScheme.size() || value.size() > kScheme.size() + kMaxTokenBytes ||
      value.substr(0, kScheme.size()) != kScheme) {
    return {};
  }
  return std::string(value.substr(kScheme.size()));
}

Identity Authorizer::authenticate(const grpc::ServerContextBase& context) const {
  const std::string token = bearer_token(context);
  if (token.empty()) {
    throw RpcError(grpc::StatusCode::UNAUTHENTICATED,
                   "authorization: this call needs a bearer token (ernctl --token or ERN_TOKEN)");
  }
  auto identity = verifier_.verify(token);
  if (!identity) {
    throw RpcError(grpc::StatusCode::UNAUTHENTICATED,
                   "authorization: unknown, revoked or expired token");
  }
  return std::move(*identity);
}

void Authorizer::authorize(const Identity& caller, Action action) {
  if (!role_allows(caller.role, action)) {
    throw RpcError(
        grpc::StatusCode::PERMISSION_DENIED,
        "authorization: role " + role_name(caller.role) + " may not " + action_name(action));
  }
}

}  // namespace ern::auth
