#pragma once
// Which jobs and models a caller may see and act on. admin and operator see every team; member
// and viewer see their own team's jobs and models, plus the shipped models and the default model
// (what Denoise serves to everyone). Anything else answers exactly as if it did not exist, so no
// other team's job or model is revealed.

#include <string>

#include "common/auth/identity.h"
#include "ern/v1/models.pb.h"
#include "ern/v1/search.pb.h"

namespace ern::auth {

// Throws RpcError NOT_FOUND ("id: no job …") unless the caller may see `job`.
void require_visible(const auth::Identity& caller, const v1::Job& job);

bool is_visible(const auth::Identity& caller, const v1::Model& model);
// Throws RpcError NOT_FOUND ("id: no model …") unless the caller may see `model`.
void require_visible(const auth::Identity& caller, const v1::Model& model,
                     const std::string& requested_as);

// The team a new job or model is recorded under: `requested`, or the caller's own team (or
// "default" for a caller without one) when empty. Throws RpcError PERMISSION_DENIED, naming
// `field`, when a team-scoped caller asks for another team.
std::string acting_team(const auth::Identity& caller, const std::string& requested,
                        const char* field);

// The team filter of a listing: a team-scoped caller lists its own team whatever it asks for
// (PERMISSION_DENIED when it names another).
std::string listing_team(const auth::Identity& caller, const std::string& requested);

}  // namespace ern::auth
