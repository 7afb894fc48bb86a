#include "common/auth/remote_token_verifier.h"

#include <spdlog/spdlog.h>

#include "common/rpc_error.h"
#include "common/sha256.h"
#include "ern/v1/access.grpc.pb.h"

namespace ern::auth {
namespace {

// Enough for every token a deployment holds; past it, the cache starts over rather than grow.
constexpr size_t kMaxCachedAnswers = 10000;

}  // namespace

struct RemoteTokenVerifier::Stub {
  std::unique_ptr<v1::AccessService::Stub> access;
};

RemoteTokenVerifier::RemoteTokenVerifier(std::shared_ptr<grpc::Channel> coordinator_channel,
                                         const std::string& coordinator,
                                         std::chrono::seconds cache_for,
                                         std::chrono::seconds stale_for)
    : stub_(std::make_unique<Stub>(Stub{v1::AccessService::NewStub(coordinator_channel)})),
      coordinator_(coordinator),
      cache_for_(cache_for),
      stale_for_(stale_for) {}

RemoteTokenVerifier::~RemoteTokenVerifier() = default;

std::optional<Identity> RemoteTokenVerifier::ask(const std::string& token) const {
  v1::VerifyTokenRequest request;
  request.set_token(token);
  v1::Token holder;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  const auto status = stub_->access->VerifyToken(&context, request, &holder);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  if (!status.ok()) {
    spdlog::warn("VerifyToken on {}: {} {}", coordinator_, static_cast<int>(status.error_code()),
                 status.error_message());
    throw RpcError(grpc::StatusCode::UNAVAILABLE,
                   "cannot verify the token: the coordinator did not answer");
  }
  const auto role = parse_role(holder.role());
  if (!role) return std::nullopt;
  return Identity{holder.id(),
                  holder.name(),
                  holder.team(),
                  *role,
                  {holder.models().begin(), holder.models().end()}};
}

std::optional<Identity> RemoteTokenVerifier::verify(const std::string& token) {
  const auto key = sha256_hex(token);
  const auto now = std::chrono::steady_clock::now();
  std::optional<Identity> last_known;  // a holder the coordinator named before, lately enough
  {
    std::lock_guard lock(mutex_);
    const auto found = answers_.find(key);
    if (found != answers_.end() && found->second.expires > now) return found->second.identity;
    if (found != answers_.end() && found->second.expires + stale_for_ > now) {
      last_known = found->second.identity;
    }
  }
  std::optional<Identity> identity;
  try {
    identity = ask(token);  // outside the lock: one slow answer must not stall the others
  } catch (const RpcError&) {
    if (!last_known) throw;
    return last_known;
  }
  std::lock_guard lock(mutex_);
  if (answers_.size() >= kMaxCachedAnswers) answers_.clear();
  answers_[key] = {identity, now + cache_for_};
  return identity;
}

}  // namespace ern::auth
