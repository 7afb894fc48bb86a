#include "server/access_service.h"

namespace ern::server {

using auth::Action;

AccessServiceImpl::AccessServiceImpl(TokenStore& tokens, AuditLog& audit, CallAuthority& authority)
    : tokens_(tokens), audit_(audit), authority_(authority) {}

grpc::Status AccessServiceImpl::CreateToken(grpc::ServerContext* context,
                                            const v1::CreateTokenRequest* request,
                                            v1::CreateTokenResponse* response) {
  return authority_.write(
      "CreateToken", context, Action::kManageTokens,
      [&](const auth::Identity&, std::string& target) {
        const auto role = auth::parse_role(request->role());
        if (!role) {
          throw std::invalid_argument("role: '" + request->role() + "' is not one of " +
                                      auth::role_names());
        }
        auto created = tokens_.create({request->team(),
                                       *role,
                                       request->name(),
                                       {request->models().begin(), request->models().end()},
                                       request->ttl_seconds()});
        target = created.token.id() + " (" + request->role() + ", team '" + request->team() + "')";
        *response->mutable_token() = std::move(created.token);
        response->set_secret(std::move(created.secret));
      });
}

grpc::Status AccessServiceImpl::ListTokens(grpc::ServerContext* context,
                                           const v1::ListTokensRequest*,
                                           v1::ListTokensResponse* response) {
  return authority_.read("ListTokens", context, Action::kManageTokens, [&](const auth::Identity&) {
    for (auto& token : tokens_.list()) *response->add_tokens() = std::move(token);
  });
}

grpc::Status AccessServiceImpl::RevokeToken(grpc::ServerContext* context,
                                            const v1::RevokeTokenRequest* request,
                                            v1::Token* response) {
  return authority_.write("RevokeToken", context, Action::kManageTokens,
                          [&](const auth::Identity&, std::string& target) {
                            target = request->id().substr(0, 64);
                            if (request->id().empty()) {
                              throw std::invalid_argument("id: must name a token (tok-…)");
                            }
                            *response = tokens_.revoke(request->id());
                          });
}

grpc::Status AccessServiceImpl::ListAuditEvents(grpc::ServerContext* context,
                                                const v1::ListAuditEventsRequest* request,
                                                v1::ListAuditEventsResponse* response) {
  return authority_.read("ListAuditEvents", context, Action::kReadAudit,
                         [&](const auth::Identity&) {
                           const int limit = request->limit() == 0 ? 100 : request->limit();
                           if (limit < 1 || limit > 10000) {
                             throw std::invalid_argument("limit: must be in 1..10000");
                           }
                           for (auto& event : audit_.since(request->since_unix_ms(), limit)) {
                             *response->add_events() = std::move(event);
                           }
                         });
}

grpc::Status AccessServiceImpl::VerifyToken(grpc::ServerContext* context,
                                            const v1::VerifyTokenRequest* request,
                                            v1::Token* response) {
  return authority_.read("VerifyToken", context, Action::kVerifyTokens, [&](const auth::Identity&) {
    const auto holder = tokens_.verify(request->token());
    // NOT_FOUND, not UNAUTHENTICATED: the caller's own token is fine.
    if (!holder) throw RpcError(grpc::StatusCode::NOT_FOUND, "token: unknown, revoked or expired");
    response->set_id(holder->token_id);
    response->set_name(holder->name);
    response->set_team(holder->team);
    response->set_role(auth::role_name(holder->role));
    for (const auto& model : holder->models) response->add_models(model);
  });
}

}  // namespace ern::server
