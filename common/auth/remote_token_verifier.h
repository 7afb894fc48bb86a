#pragma once
// A TokenVerifier for ERN servers other than the coordinator (device farms, ern-serve): asks the
// coordinator's AccessService.VerifyToken, with this server's own token, who holds a caller's
// token. Answers are cached for a short time, so a revoked token stops working within that time
// and a busy server does not ask on every call. A coordinator that cannot be reached makes calls
// fail with UNAVAILABLE rather than let anyone in, except that a server may keep accepting the
// holders it already knows for `stale_for` past their answer's expiry (serving replicas go on
// serving their applications while the coordinator is away; a revocation then takes effect when it
// is back).

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/auth/authorizer.h"

namespace grpc {
class Channel;
}

namespace ern::v1 {
class AccessService;
}

namespace ern::auth {

class RemoteTokenVerifier final : public TokenVerifier {
 public:
  // `coordinator_channel`: a channel to `coordinator` that presents this server's own token (of
  // role worker, serve or admin, for VerifyToken itself). A server that calls the coordinator for
  // other things too passes that same channel, so that both see one connection: once it is back,
  // tokens are verified again (two channels reconnect each on its own backoff schedule).
  RemoteTokenVerifier(std::shared_ptr<grpc::Channel> coordinator_channel,
                      const std::string& coordinator,
                      std::chrono::seconds cache_for = std::chrono::seconds(30),
                      std::chrono::seconds stale_for = std::chrono::seconds(0));
  ~RemoteTokenVerifier() override;
  // Throws RpcError UNAVAILABLE when the coordinator cannot answer.
  std::optional<Identity> verify(const std::string& token) override;

 private:
  struct Answer {
    std::optional<Identity> identity;
    std::chrono::steady_clock::time_point expires;
  };
  std::optional<Identity> ask(const std::string& token) const;

  struct Stub;
  std::unique_ptr<Stub> stub_;
  std::string coordinator_;
  std::chrono::seconds cache_for_;
  std::chrono::seconds stale_for_;
  std::mutex mutex_;
  std::unordered_map<std::string, Answer> answers_;  // by SHA-256 of the token
};

}  // namespace ern::auth
