#include "server/artifact_room.h"

#include <filesystem>
#include <set>

namespace ern::server {
namespace {

namespace fs = std::filesystem;

int64_t bytes_under(const fs::path& path) {
  std::error_code error;
  if (fs::is_regular_file(path, error)) return static_cast<int64_t>(fs::file_size(path, error));
  int64_t bytes = 0;
  for (fs::recursive_directory_iterator it(path, error), end; !error && it != end;
       it.increment(error)) {
    if (it->is_regular_file(error)) bytes += static_cast<int64_t>(it->file_size(error));
  }
  return bytes;
}

}  // namespace

ArtifactRoom artifact_room(JobStore& store, const ArtifactStore& artifacts,
                           const QuotaConfig& quotas, const std::string& team) {
  ArtifactRoom room{team, quotas.for_team(team).max_artifact_bytes, 0};
  if (room.limit == 0) return room;
  const auto stored = store.team_artifacts(team);
  int64_t used = 0;
  for (const auto& job_id : stored.job_ids)
    used += bytes_under(artifacts.checkpoint_directory(job_id));
  // Models that share their files count once.
  for (const auto& sha :
       std::set<std::string>(stored.model_sha256s.begin(), stored.model_sha256s.end())) {
    used += bytes_under(artifacts.model_archive(sha));
  }
  room.bytes_left = room.limit - used;
  return room;
}

}  // namespace ern::server
