#pragma once
// AccessService: tokens (admin) and the audit log (admin, operator).

#include "ern/v1/access.grpc.pb.h"
#include "server/audit_log.h"
#include "server/call_authority.h"
#include "server/token_store.h"

namespace ern::server {

class AccessServiceImpl final : public v1::AccessService::Service {
 public:
  AccessServiceImpl(TokenStore& tokens, AuditLog& audit, CallAuthority& authority);

  grpc::Status CreateToken(grpc::ServerContext* context, const v1::CreateTokenRequest* request,
                           v1::CreateTokenResponse* response) override;
  grpc::Status ListTokens(grpc::ServerContext* context, const v1::ListTokensRequest* request,
                          v1::ListTokensResponse* response) override;
  grpc::Status RevokeToken(grpc::ServerContext* context, const v1::RevokeTokenRequest* request,
                           v1::Token* response) override;
  grpc::Status ListAuditEvents(grpc::ServerContext* context,
                               const v1::ListAuditEventsRequest* request,
                               v1::ListAuditEventsResponse* response) override;
  grpc::Status VerifyToken(grpc::ServerContext* context, const v1::VerifyTokenRequest* request,
                           v1::Token* response) override;

 private:
  TokenStore& tokens_;
  AuditLog& audit_;
  CallAuthority& authority_;
};

}  // namespace ern::server
