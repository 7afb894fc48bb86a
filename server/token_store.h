#pragma once
// Bearer tokens in the coordinator's SQLite database. Only each token's SHA-256 is stored; the
// secret is returned once, when the token is made. Lookups read the database on every call, so a
// revocation takes effect at once.

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/auth/authorizer.h"
#include "common/sqlite.h"
#include "ern/v1/access.pb.h"

namespace ern::server {

struct NewToken {
  std::string team;
  auth::Role role = auth::Role::kViewer;
  std::string name;
  std::vector<std::string> models;
  int64_t ttl_seconds = 0;  // 0: no expiry
};

struct CreatedToken {
  v1::Token token;
  std::string secret;
};

class TokenStore final : public auth::TokenVerifier {
 public:
  explicit TokenStore(const std::filesystem::path& database);

  // Validates the fields (std::invalid_argument naming the field) and stores the token's hash.
  CreatedToken create(const NewToken& token);
  std::vector<v1::Token> list();
  // RpcError NOT_FOUND for an unknown id.
  v1::Token revoke(const std::string& id);

  std::optional<auth::Identity> verify(const std::string& token) override;

  // On a database with no tokens yet: makes an admin token and writes it to `file` (mode 0600).
  // Returns whether it did.
  bool bootstrap_admin(const std::filesystem::path& file);

  // A token for the coordinator's own (embedded) workers: role worker, held in memory only.
  const std::string& embedded_worker_token() const { return embedded_worker_token_; }

 private:
  CreatedToken insert(const NewToken& token, const std::string& secret);
  v1::Token load(const std::string& id);

  SqliteDatabase db_;
  std::mutex mutex_;
  std::string embedded_worker_token_;
};

}  // namespace ern::server
