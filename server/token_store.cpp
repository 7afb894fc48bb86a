#include "server/token_store.h"

#include <spdlog/spdlog.h>

#include <sstream>

#include "common/atomic_file.h"
#include "common/auth/secure_random.h"
#include "common/rpc_error.h"
#include "common/sha256.h"
#include "server/identifier.h"
#include "server/job_store.h"

namespace ern::server {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, secret_sha256 TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
  team TEXT NOT NULL, role TEXT NOT NULL, models TEXT NOT NULL, created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL, revoked_ms INTEGER NOT NULL DEFAULT 0);
)sql";

constexpr char kColumns[] = "id, name, team, role, models, created_ms, expires_ms, revoked_ms";
constexpr int64_t kMaxTtlSeconds = 10LL * 365 * 24 * 3600;
constexpr size_t kMaxModelsPerToken = 64;

v1::Token token_from_row(const Statement& row) {
  v1::Token token;
  token.set_id(row.text(0));
  token.set_name(row.text(1));
  token.set_team(row.text(2));
  token.set_role(row.text(3));
  std::istringstream models(row.text(4));
  for (std::string model; std::getline(models, model, ',');) token.add_models(model);
  token.set_created_unix_ms(row.integer(5));
  token.set_expires_unix_ms(row.integer(6));
  token.set_revoked_unix_ms(row.integer(7));
  return token;
}

void validate(const NewToken& token) {
  // admin, operator and worker tokens act across teams; the others belong to one.
  const bool team_scoped = token.role == auth::Role::kMember || token.role == auth::Role::kViewer ||
                           token.role == auth::Role::kApp;
  if (team_scoped || !token.team.empty()) require_identifier("team", token.team);
  if (!token.name.empty()) require_identifier("name", token.name);
  if (!token.models.empty() && token.role != auth::Role::kApp) {
    throw std::invalid_argument("models: only app tokens are limited to named models");
  }
  if (token.models.size() > kMaxModelsPerToken) {
    throw std::invalid_argument("models: at most " + std::to_string(kMaxModelsPerToken));
  }
  for (const auto& model : token.models) require_identifier("models", model);
  if (token.ttl_seconds < 0 || token.ttl_seconds > kMaxTtlSeconds) {
    throw std::invalid_argument("ttl_seconds: must be in 0..10 years (0: no expiry)");
  }
}

std::string new_secret() { return "ern_" + auth::random_hex(24); }

}  // namespace

TokenStore::TokenStore(const std::filesystem::path& database)
    : db_(database, kSchema), embedded_worker_token_(new_secret()) {}

CreatedToken TokenStore::create(const NewToken& token) {
  validate(token);
  return insert(token, new_secret());
}

CreatedToken TokenStore::insert(const NewToken& token, const std::string& secret) {
  CreatedToken created;
  created.secret = secret;
  const std::string id = "tok-" + auth::random_hex(6);
  std::string models;
  for (const auto& model : token.models) models += (models.empty() ? "" : ",") + model;
  const int64_t now = now_unix_ms();
  std::lock_guard lock(mutex_);
  Statement insert(db_,
                   "INSERT INTO tokens (id, secret_sha256, name, team, role, models, created_ms, "
                   "expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  insert.bind(1, id)
      .bind(2, sha256_hex(created.secret))
      .bind(3, token.name)
      .bind(4, token.team)
      .bind(5, auth::role_name(token.role))
      .bind(6, models)
      .bind(7, now)
      .bind(8, token.ttl_seconds == 0 ? int64_t{0} : now + token.ttl_seconds * 1000);
  insert.step();
  created.token = load(id);
  return created;
}

v1::Token TokenStore::load(const std::string& id) {
  Statement query(db_, (std::string("SELECT ") + kColumns + " FROM tokens WHERE id=?1").c_str());
  query.bind(1, id);
  if (!query.step()) throw RpcError(grpc::StatusCode::NOT_FOUND, "id: no token " + id);
  return token_from_row(query);
}

std::vector<v1::Token> TokenStore::list() {
  std::lock_guard lock(mutex_);
  Statement query(db_,
                  (std::string("SELECT ") + kColumns + " FROM tokens ORDER BY created_ms").c_str());
  std::vector<v1::Token> tokens;
  while (query.step()) tokens.push_back(token_from_row(query));
  return tokens;
}

v1::Token TokenStore::revoke(const std::string& id) {
  std::lock_guard lock(mutex_);
  Statement update(db_, "UPDATE tokens SET revoked_ms=?2 WHERE id=?1 AND revoked_ms=0");
  update.bind(1, id).bind(2, now_unix_ms());
  update.step();
  return load(id);
}

std::optional<auth::Identity> TokenStore::verify(const std::string& token) {
  if (auth::constant_time_equal(token, embedded_worker_token_)) {
    return auth::Identity{"embedded", "embedded-workers", "", auth::Role::kWorker, {}};
  }
  std::lock_guard lock(mutex_);
  Statement query(db_, (std::string("SELECT ") + kColumns +
                        " FROM tokens WHERE secret_sha256=?1 AND revoked_ms=0 AND "
                        "(expires_ms=0 OR expires_ms>?2)")
                           .c_str());
  query.bind(1, sha256_hex(token)).bind(2, now_unix_ms());
  if (!query.step()) return std::nullopt;
  const auto record = token_from_row(query);
  const auto role = auth::parse_role(record.role());
  if (!role) return std::nullopt;
  return auth::Identity{record.id(),
                        record.name(),
                        record.team(),
                        *role,
                        {record.models().begin(), record.models().end()}};
}

bool TokenStore::bootstrap_admin(const std::filesystem::path& file) {
  {
    std::lock_guard lock(mutex_);
    Statement count(db_, "SELECT COUNT(*) FROM tokens");
    count.step();
    if (count.integer(0) > 0) return false;
  }
  // The file first: a crash before the insert leaves no token, and the next start writes a new one.
  const std::string secret = new_secret();
  write_file_atomically(file, secret + "\n", 0600);
  const auto created = insert({"", auth::Role::kAdmin, "bootstrap-admin", {}, 0}, secret);
  spdlog::warn(
      "first start: wrote an admin token ({}) to {}; issue narrower tokens with "
      "ernctl tokens create",
      created.token.id(), file.string());
  return true;
}

}  // namespace ern::server
