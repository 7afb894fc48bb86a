#include "common/auth/identity.h"

#include <array>
#include <utility>

namespace ern::auth {
namespace {

constexpr std::array<std::pair<Role, const char*>, 7> kRoles{{
    {Role::kAdmin, "admin"},
    {Role::kOperator, "operator"},
    {Role::kMember, "member"},
    {Role::kViewer, "viewer"},
    {Role::kApp, "app"},
    {Role::kWorker, "worker"},
    {Role::kServe, "serve"},
}};

}  // namespace

std::string role_name(Role role) {
  for (const auto& [value, name] : kRoles) {
    if (value == role) return name;
  }
  return "unknown";
}

std::optional<Role> parse_role(const std::string& name) {
  for (const auto& [value, known] : kRoles) {
    if (name == known) return value;
  }
  return std::nullopt;
}

std::string role_names() {
  std::string names;
  for (const auto& [value, name] : kRoles) names += (names.empty() ? "" : ", ") + std::string(name);
  return names;
}

bool role_allows(Role role, Action action) {
  switch (role) {
    case Role::kAdmin:
      return true;
    case Role::kOperator:
      return action != Action::kManageTokens && action != Action::kSubmitJob &&
             action != Action::kWorkerService && action != Action::kMeasureLatency &&
             action != Action::kVerifyTokens;
    case Role::kMember:
      return action == Action::kSubmitJob || action == Action::kReadJobs ||
             action == Action::kCancelJob || action == Action::kReadModels ||
             action == Action::kImportModel || action == Action::kDenoise;
    case Role::kViewer:
      return action == Action::kReadJobs || action == Action::kReadModels;
    case Role::kApp:
      return action == Action::kDenoise;
    case Role::kWorker:
      return action == Action::kWorkerService || action == Action::kMeasureLatency ||
             action == Action::kVerifyTokens;
    case Role::kServe:
      // A serving replica mirrors the registry and checks its callers' tokens, nothing else.
      return action == Action::kMirrorModels || action == Action::kVerifyTokens;
  }
  return false;
}

bool sees_all_teams(const Identity& identity) {
  return identity.role == Role::kAdmin || identity.role == Role::kOperator;
}

std::string action_name(Action action) {
  switch (action) {
    case Action::kSubmitJob:
      return "submit search jobs";
    case Action::kReadJobs:
      return "read jobs";
    case Action::kCancelJob:
      return "cancel jobs";
    case Action::kReadModels:
      return "read models";
    case Action::kImportModel:
      return "import models";
    case Action::kSetDefaultModel:
      return "change the default model";
    case Action::kDenoise:
      return "call Denoise";
    case Action::kWorkerService:
      return "act as a worker";
    case Action::kMeasureLatency:
      return "measure latency";
    case Action::kManageTokens:
      return "manage tokens";
    case Action::kReadAudit:
      return "read the audit log";
    case Action::kVerifyTokens:
      return "verify tokens";
    case Action::kMirrorModels:
      return "mirror the model registry";
  }
  return "unknown action";
}

}  // namespace ern::auth
