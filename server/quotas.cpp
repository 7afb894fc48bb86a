#include "server/quotas.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "common/metrics.h"
#include "common/rpc_error.h"
#include "common/yaml_config.h"
#include "server/identifier.h"

namespace ern::server {
namespace {

metrics::Counter& rejections(const std::string& quota) {
  static auto& family =
      metrics::registry().counter("ern_coordinator_quota_rejections_total",
                                  "Calls refused because a quota was spent.", {"quota"});
  return family.with({quota});
}

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

std::string rate_text(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
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
  if (const auto apps = node["app_tokens"]) {
    const std::string prefix = "quotas.app_tokens.";
    reject_unknown_fields(apps, prefix, {"requests_per_second", "megapixels_per_second"});
    read_yaml_field(apps, prefix, "requests_per_second", config.app_tokens.requests_per_second);
    read_yaml_field(apps, prefix, "megapixels_per_second", config.app_tokens.megapixels_per_second);
    for (const auto& [field, value] :
         {std::pair{"requests_per_second", config.app_tokens.requests_per_second},
          std::pair{"megapixels_per_second", config.app_tokens.megapixels_per_second}}) {
      if (!std::isfinite(value) || value < 0 || value > 1e9) {
        throw std::invalid_argument(prefix + field + ": must be in 0..1e9 (0: unlimited)");
      }
    }
  }
  return config;
}

void refuse_over_quota(const std::string& quota, const std::string& message) {
  rejections(quota).inc();
  throw RpcError(grpc::StatusCode::RESOURCE_EXHAUSTED, "quota " + quota + ": " + message);
}

bool AppRateLimiter::take(Bucket& bucket, double rate, double amount, Clock::time_point now) {
  if (!bucket.started) {
    bucket = {rate, now, true};
  } else {
    const double elapsed = std::chrono::duration<double>(now - bucket.refilled).count();
    bucket.tokens = std::min(rate, bucket.tokens + elapsed * rate);
    bucket.refilled = now;
  }
  // A single call larger than a second's worth passes when the bucket is full, leaving it in
  // debt, so that no image is too large for a small rate.
  if (bucket.tokens < std::min(amount, rate)) return false;
  bucket.tokens -= amount;
  return true;
}

bool AppRateLimiter::spend(std::map<std::string, Bucket>& buckets, const std::string& token_id,
                           double rate, double amount) {
  std::lock_guard lock(mutex_);
  return take(buckets[token_id], rate, amount, Clock::now());
}

void AppRateLimiter::admit_request(const std::string& token_id) {
  const double rate = quota_.requests_per_second;
  if (rate > 0 && !spend(requests_, token_id, rate, 1.0)) {
    refuse_over_quota("requests_per_second",
                      "this token may make " + rate_text(rate) +
                          " Denoise calls per second (quotas.app_tokens.requests_per_second)");
  }
}

void AppRateLimiter::admit_pixels(const std::string& token_id, int64_t pixels) {
  const double rate = quota_.megapixels_per_second;
  if (rate > 0 && !spend(megapixels_, token_id, rate, static_cast<double>(pixels) / 1e6)) {
    refuse_over_quota("megapixels_per_second",
                      "this token may send " + rate_text(rate) +
                          " megapixels per second (quotas.app_tokens.megapixels_per_second)");
  }
}

}  // namespace ern::server
