#include "server/audit_log.h"

#include <spdlog/spdlog.h>

#include "common/status_names.h"
#include "server/job_store.h"

namespace ern::server {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, token_id TEXT NOT NULL,
  token_name TEXT NOT NULL, role TEXT NOT NULL, team TEXT NOT NULL, method TEXT NOT NULL,
  target TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (at_ms);
)sql";

// Targets and messages come from clients; the log keeps a bounded prefix.
std::string bounded(const std::string& text) { return text.substr(0, 512); }

}  // namespace

AuditLog::AuditLog(const std::filesystem::path& database) : db_(database, kSchema) {}

void AuditLog::record(const auth::Identity& caller, const std::string& method,
                      const std::string& target, const grpc::Status& result) {
  const std::string code = status_code_name(result.error_code());
  spdlog::info("audit: {} ({} {}, team '{}') {} {}: {}", caller.token_id, caller.name,
               auth::role_name(caller.role), caller.team, method, bounded(target), code);
  std::lock_guard lock(mutex_);
  Statement insert(db_,
                   "INSERT INTO audit (at_ms, token_id, token_name, role, team, method, target, "
                   "code, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  insert.bind(1, now_unix_ms())
      .bind(2, caller.token_id)
      .bind(3, caller.name)
      .bind(4, auth::role_name(caller.role))
      .bind(5, caller.team)
      .bind(6, method)
      .bind(7, bounded(target))
      .bind(8, code)
      .bind(9, bounded(result.error_message()));
  insert.step();
  if (++inserts_ % 1000 == 0) {
    Statement prune(db_, "DELETE FROM audit WHERE seq <= (SELECT MAX(seq) FROM audit) - ?1");
    prune.bind(1, kMaxRows);
    prune.step();
  }
}

std::vector<v1::AuditEvent> AuditLog::since(int64_t since_unix_ms, int limit) {
  std::lock_guard lock(mutex_);
  Statement query(db_,
                  "SELECT seq, at_ms, token_id, token_name, role, team, method, target, code, "
                  "message FROM audit WHERE at_ms >= ?1 ORDER BY seq DESC LIMIT ?2");
  query.bind(1, since_unix_ms).bind(2, limit);
  std::vector<v1::AuditEvent> events;
  while (query.step()) {
    auto& event = events.emplace_back();
    event.set_seq(query.integer(0));
    event.set_at_unix_ms(query.integer(1));
    event.set_token_id(query.text(2));
    event.set_token_name(query.text(3));
    event.set_role(query.text(4));
    event.set_team(query.text(5));
    event.set_method(query.text(6));
    event.set_target(query.text(7));
    event.set_code(query.text(8));
    event.set_message(query.text(9));
  }
  return events;
}

}  // namespace ern::server
