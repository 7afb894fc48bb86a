#pragma once
// Per-team and per-app-token quotas (the `quotas:` section of the coordinator's config). Beyond a
// quota a call gets RESOURCE_EXHAUSTED at once, naming the quota; every refusal counts in
// ern_coordinator_quota_rejections_total{quota}.
//
//   quotas:
//     teams:                       # per team; `default` for teams not listed; 0 = unlimited
//       default: {max_active_jobs: 16, max_artifact_bytes: 21474836480}
//       vision: {max_active_jobs: 64}
//     app_tokens: {requests_per_second: 0, megapixels_per_second: 0}   # each app token its own

#include <cstdint>
#include <map>
#include <string>

#include <yaml-cpp/yaml.h>

#include "serving/app_rate_limiter.h"

namespace ern::server {

struct TeamQuota {
  int64_t max_active_jobs = 0;     // QUEUED + RUNNING jobs of the team; 0: unlimited
  int64_t max_artifact_bytes = 0;  // checkpoints of its jobs plus its models' archives
};

struct QuotaConfig {
  TeamQuota team_default;
  std::map<std::string, TeamQuota> teams;
  serving::AppTokenQuota app_tokens;

  const TeamQuota& for_team(const std::string& team) const;
};

// Fields present in `node` over no limits at all; errors name `quotas.<key>`.
QuotaConfig read_quota_config(const YAML::Node& node);

}  // namespace ern::server
