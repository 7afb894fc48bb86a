#pragma once
// The door every coordinator RPC goes through (health checking and reflection excepted):
// authenticate the bearer token, check the role allows the call's action, run the handler with the
// caller's identity, turn exceptions into statuses (guarded_rpc), and, for calls that change
// something, write the outcome to the audit log.

#include <optional>
#include <string>

#include "common/auth/authorizer.h"
#include "common/rpc_error.h"
#include "server/audit_log.h"

namespace ern::server {

class CallAuthority {
 public:
  CallAuthority(auth::TokenVerifier& verifier, AuditLog& audit)
      : authorizer_(verifier), audit_(audit) {}

  // `body(caller)` for calls that only read.
  template <typename Body>
  grpc::Status read(const char* method, const grpc::ServerContextBase* context, auth::Action action,
                    Body&& body) {
    return guarded_rpc(method, [&] {
      const auto caller = authorizer_.authenticate(*context);
      auth::Authorizer::authorize(caller, action);
      body(caller);
    });
  }

  // Records an outcome a read-only call decided on its own (a lease granted by a poll).
  void record(const auth::Identity& caller, const char* method, const std::string& target,
              const grpc::Status& status) {
    audit(caller, method, target, status);
  }

  // `body(caller, target)` for calls that change something; the body names what it acted on in
  // `target` (a job, a model, a token) for the audit log, which records refusals too.
  template <typename Body>
  grpc::Status write(const char* method, const grpc::ServerContextBase* context,
                     auth::Action action, Body&& body) {
    std::optional<auth::Identity> caller;
    std::string target;
    const auto status = guarded_rpc(method, [&] {
      caller = authorizer_.authenticate(*context);
      auth::Authorizer::authorize(*caller, action);
      body(*caller, target);
    });
    if (caller) audit(*caller, method, target, status);
    return status;
  }

 private:
  void audit(const auth::Identity& caller, const char* method, const std::string& target,
             const grpc::Status& status);

  auth::Authorizer authorizer_;
  AuditLog& audit_;
};

}  // namespace ern::server
