#pragma once
// Who is calling and what they may do: the roles of ERN's bearer tokens and the actions each role
// allows. Team scoping (which jobs and models a caller may see) is in team_scope.h.

#include <optional>
#include <string>
#include <vector>

namespace ern::auth {

enum class Role { kAdmin, kOperator, kMember, kViewer, kApp, kWorker, kServe };

// Every protected call names exactly one action.
enum class Action {
  kSubmitJob,
  kReadJobs,
  kCancelJob,
  kReadModels,
  kImportModel,
  kSetDefaultModel,
  kDenoise,
  kWorkerService,   // lease, report, upload (ern-worker)
  kMeasureLatency,  // the device farm's LatencyService
  kManageTokens,
  kReadAudit,
  kVerifyTokens,  // AccessService.VerifyToken (a device farm or a replica checking its callers)
  kMirrorModels,  // ModelService.DownloadModel and WatchModels (serving replicas)
};

struct Identity {
  std::string token_id;  // "tok-…", or "embedded" for the coordinator's own workers
  std::string name;
  std::string team;
  Role role = Role::kViewer;
  std::vector<std::string> models;  // app tokens: the models it may call; empty: any
};

std::string role_name(Role role);
// nullopt for an unknown name.
std::optional<Role> parse_role(const std::string& name);
// "admin, operator, member, viewer, app, worker, serve".
std::string role_names();

bool role_allows(Role role, Action action);
// admin and operator act on every team; the other roles on their own.
bool sees_all_teams(const Identity& identity);
std::string action_name(Action action);

}  // namespace ern::auth
