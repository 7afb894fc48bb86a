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

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <yaml-cpp/yaml.h>

namespace ern::server {

struct TeamQuota {
  int64_t max_active_jobs = 0;     // QUEUED + RUNNING jobs of the team; 0: unlimited
  int64_t max_artifact_bytes = 0;  // checkpoints of its jobs plus its models' archives
};

struct AppTokenQuota {
  double requests_per_second = 0;    // Denoise calls; 0: unlimited
  double megapixels_per_second = 0;  // decoded pixels of those calls; 0: unlimited
};

struct QuotaConfig {
  TeamQuota team_default;
  std::map<std::string, TeamQuota> teams;
  AppTokenQuota app_tokens;

  const TeamQuota& for_team(const std::string& team) const;
};

// Fields present in `node` over no limits at all; errors name `quotas.<key>`.
QuotaConfig read_quota_config(const YAML::Node& node);

// Throws RpcError(RESOURCE_EXHAUSTED) naming `quota` (and counts the refusal).
[[noreturn]] void refuse_over_quota(const std::string& quota, const std::string& message);

// Token buckets per app token: a second's worth of each rate may be spent at once, and the bucket
// refills at the rate. Holds one bucket per token that called, so at most one per issued token.
class AppRateLimiter {
 public:
  explicit AppRateLimiter(AppTokenQuota quota) : quota_(quota) {}

  // Counts one call of `token_id`; RESOURCE_EXHAUSTED when its request rate is spent.
  void admit_request(const std::string& token_id);
  // Counts `pixels` decoded for `token_id`; RESOURCE_EXHAUSTED when its pixel rate is spent.
  void admit_pixels(const std::string& token_id, int64_t pixels);

 private:
  using Clock = std::chrono::steady_clock;
  struct Bucket {
    double tokens = 0;
    Clock::time_point refilled{};
    bool started = false;
  };
  // Takes `amount` from `bucket` (refilled at `rate` per second up to `rate`); false if short.
  static bool take(Bucket& bucket, double rate, double amount, Clock::time_point now);
  // take() on the bucket of `token_id` in `buckets`, under the lock.
  bool spend(std::map<std::string, Bucket>& buckets, const std::string& token_id, double rate,
             double amount);

  const AppTokenQuota quota_;
  std::mutex mutex_;
  std::map<std::string, Bucket> requests_, megapixels_;
};

}  // namespace ern::server
