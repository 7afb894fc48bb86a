#pragma once
// The one way a call is refused for a spent quota: RESOURCE_EXHAUSTED naming the quota, counted in
// ern_coordinator_quota_rejections_total{quota} (the name dashboards and alerts know, kept for
// the Denoise engine wherever it runs).

#include <string>

namespace ern {

// Throws RpcError(RESOURCE_EXHAUSTED) "quota <quota>: <message>" and counts the refusal.
[[noreturn]] void refuse_over_quota(const std::string& quota, const std::string& message);

}  // namespace ern
