#pragma once
// Per-app-token rates of Denoise (`quotas.app_tokens` of the config): token buckets of calls and
// of decoded megapixels per second. Beyond a rate a call gets RESOURCE_EXHAUSTED at once, naming
// the quota.

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include <yaml-cpp/yaml.h>

namespace ern::serving {

struct AppTokenQuota {
  double requests_per_second = 0;    // Denoise calls; 0: unlimited
  double megapixels_per_second = 0;  // decoded pixels of those calls; 0: unlimited
};

// The fields present in `node` (requests_per_second, megapixels_per_second) over no limits;
// errors name `<prefix><field>`.
AppTokenQuota read_app_token_quota(const YAML::Node& node, const std::string& prefix);

// A second's worth of each rate may be spent at once, and the bucket refills at the rate. Holds
// one bucket per token that called, so at most one per issued token.
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

}  // namespace ern::serving
