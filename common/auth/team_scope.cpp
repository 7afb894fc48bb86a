#include "common/auth/team_scope.h"

#include "common/rpc_error.h"

namespace ern::auth {
namespace {

void require_own_team(const auth::Identity& caller, const std::string& team, const char* field) {
  if (auth::sees_all_teams(caller) || team == caller.team) return;
  throw RpcError(grpc::StatusCode::PERMISSION_DENIED, std::string(field) + ": a token of team '" +
                                                          caller.team + "' cannot act for team '" +
                                                          team + "'");
}

}  // namespace

void require_visible(const auth::Identity& caller, const v1::Job& job) {
  if (auth::sees_all_teams(caller) || job.team() == caller.team) return;
  throw RpcError(grpc::StatusCode::NOT_FOUND, "id: no job " + job.id());
}

bool is_visible(const auth::Identity& caller, const v1::Model& model) {
  return auth::sees_all_teams(caller) || model.team() == caller.team ||
         model.source() == "shipped" || model.is_default();
}

void require_visible(const auth::Identity& caller, const v1::Model& model,
                     const std::string& requested_as) {
  if (!is_visible(caller, model)) {
    throw RpcError(grpc::StatusCode::NOT_FOUND, "id: no model " + requested_as);
  }
}

std::string acting_team(const auth::Identity& caller, const std::string& requested,
                        const char* field) {
  if (requested.empty()) return caller.team.empty() ? "default" : caller.team;
  require_own_team(caller, requested, field);
  return requested;
}

std::string listing_team(const auth::Identity& caller, const std::string& requested) {
  if (requested.empty()) return auth::sees_all_teams(caller) ? "" : caller.team;
  require_own_team(caller, requested, "team");
  return requested;
}

}  // namespace ern::auth
