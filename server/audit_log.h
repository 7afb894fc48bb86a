#pragma once
// The audit log: every authenticated mutating call (who, role, team, what, result) goes into the
// coordinator's SQLite database and the process log. Heartbeats and progress reports are a
// worker's telemetry, not decisions, and are left out. The newest kMaxRows rows are kept.

#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/auth/identity.h"
#include "common/sqlite.h"
#include "ern/v1/access.pb.h"

namespace ern::server {

class AuditLog {
 public:
  static constexpr int64_t kMaxRows = 200000;

  explicit AuditLog(const std::filesystem::path& database);

  void record(const auth::Identity& caller, const std::string& method, const std::string& target,
              const grpc::Status& result);
  // Newest first.
  std::vector<v1::AuditEvent> since(int64_t since_unix_ms, int limit);

 private:
  SqliteDatabase db_;
  std::mutex mutex_;
  int64_t inserts_ = 0;
};

}  // namespace ern::server
