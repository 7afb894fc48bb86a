#include "serving/app_rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "common/quota_refusal.h"
#include "common/yaml_config.h"

namespace ern::serving {
namespace {

std::string rate_text(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

}  // namespace

AppTokenQuota read_app_token_quota(const YAML::Node& node, const std::string& prefix) {
  AppTokenQuota quota;
  if (!node) return quota;
  reject_unknown_fields(node, prefix, {"requests_per_second", "megapixels_per_second"});
  read_yaml_field(node, prefix, "requests_per_second", quota.requests_per_second);
  read_yaml_field(node, prefix, "megapixels_per_second", quota.megapixels_per_second);
  for (const auto& [field, value] :
       {std::pair{"requests_per_second", quota.requests_per_second},
        std::pair{"megapixels_per_second", quota.megapixels_per_second}}) {
    if (!std::isfinite(value) || value < 0 || value > 1e9) {
      throw std::invalid_argument(prefix + field + ": must be in 0..1e9 (0: unlimited)");
    }
  }
  return quota;
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

}  // namespace ern::serving
