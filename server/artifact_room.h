#pragma once
// How much a team may still store (quotas.teams.*.max_artifact_bytes): the checkpoints of its jobs
// and the archives of its models, measured on disk when an upload begins.

#include <cstdint>
#include <string>

#include "server/artifact_store.h"
#include "server/job_store.h"
#include "server/quotas.h"

namespace ern::server {

struct ArtifactRoom {
  std::string team;
  int64_t limit = 0;       // the team's quota; 0: unlimited
  int64_t bytes_left = 0;  // the quota less what the team stores already
};

ArtifactRoom artifact_room(JobStore& store, const ArtifactStore& artifacts,
                           const QuotaConfig& quotas, const std::string& team);

}  // namespace ern::server
