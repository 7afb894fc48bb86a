#pragma once
// The one authentication and authorization step of every protected RPC: read the
// `authorization: Bearer …` metadata, resolve it to an Identity, and check that the identity's role
// allows the call's action. Health checking and reflection are gRPC's own services and stay open.

#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>

#include "common/auth/identity.h"

namespace ern::auth {

// Resolves a bearer token; nullopt for an unknown, revoked or expired one.
class TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  virtual std::optional<Identity> verify(const std::string& token) = 0;
};

class Authorizer {
 public:
  explicit Authorizer(TokenVerifier& verifier) : verifier_(verifier) {}

  // The caller's identity; throws RpcError UNAUTHENTICATED without a valid token.
  Identity authenticate(const grpc::ServerContextBase& context) const;
  // Throws RpcError PERMISSION_DENIED when the caller's role does not allow `action`.
  static void authorize(const Identity& caller, Action action);

 private:
  TokenVerifier& verifier_;
};

// The token of an `authorization: Bearer <token>` header; empty when absent or malformed.
std::string bearer_token(const grpc::ServerContextBase& context);

}  // namespace ern::auth
