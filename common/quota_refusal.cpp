#include "common/quota_refusal.h"

#include "common/metrics.h"
#include "common/rpc_error.h"

namespace ern {

void refuse_over_quota(const std::string& quota, const std::string& message) {
  static auto& rejections =
      metrics::registry().counter("ern_coordinator_quota_rejections_total",
                                  "Calls refused because a quota was spent.", {"quota"});
  rejections.with({quota}).inc();
  throw RpcError(grpc::StatusCode::RESOURCE_EXHAUSTED, "quota " + quota + ": " + message);
}

}  // namespace ern
