#include "server/quotas.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/rpc_error.h"
#include "common/yaml_config.h"
#include "server/identifier.h"

namespace ern::server {
namespace {

TeamQuota read_team_quota(const YAML::Node& node, const std::string& prefix, TeamQuota quota) {
  reject_unknown_fields(node, prefix, {"max_active_jobs", "max_artifact_bytes"});
  read_yaml_field(node, prefix, "max_active_jobs", quota.max_active_jobs);
  read_yaml_field(node, prefix, "max_artifact_bytes", quota.max_artifact_bytes);
  if (quota.max_active_jobs < 0 || quota.max_active_jobs > 1'000'000) {
    throw std::invalid_argument(prefix + "max_active_jobs: must be in 0..1000000 (0: unlimited)");
  }
  if (quota.max_artifact_bytes < 0) {
    throw std::invalid_argument(prefix + "max_artifact_bytes: must be >= 0 (0: unlimited)");
  }
  return quota;
}

}  // namespace

const TeamQuota& QuotaConfig::for_team(const std::string& team) const {
  const auto found = teams.find(team);
  return found == teams.end() ? team_default : found->second;
}

QuotaConfig read_quota_config(const YAML::Node& node) {
  QuotaConfig config;
  if (!node) return config;
  reject_unknown_fields(node, "quotas.", {"teams", "app_tokens"});
  if (const auto teams = node["teams"]) {
    if (!teams.IsMap()) throw std::invalid_argument("quotas.teams: must be a mapping of teams");
    if (teams["default"]) {
      config.team_default = read_team_quota(teams["default"], "quotas.teams.default.", {});
    }
    for (const auto& entry : teams) {
      const auto team = entry.first.IsScalar() ? entry.first.Scalar() : std::string();
      if (team == "default") continue;
      require_identifier("quotas.teams", team);
      config.teams[team] =
          read_team_quota(entry.second, "quotas.teams." + team + ".", config.team_default);
    }
  }
  config.app_tokens = serving::read_app_token_quota(node["app_tokens"], "quotas.app_tokens.");
  return config;
}

}  // namespace ern::server
