#include "devicefarm/latency_store.h"

#include <sqlite3.h>

#include <stdexcept>

namespace ern::farm {
namespace {

// A prepared statement that finalizes itself.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &statement_, nullptr) != SQLITE_OK) {
      throw std::runtime_error(std::string("latency store: ") + sqlite3_errmsg(db));
    }
  }
  ~Statement() { sqlite3_finalize(statement_); }
  Statement& bind(int index, const std::string& value) {
    sqlite3_bind_text(statement_, index, value.c_str(), -1, SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int index, int value) {
    sqlite3_bind_int(statement_, index, value);
    return *this;
  }
  Statement& bind(int index, double value) {
    sqlite3_bind_double(statement_, index, value);
    return *this;
  }
  bool step() {
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw std::runtime_error(std::string("latency store: ") + sqlite3_errmsg(db_));
  }
  sqlite3_stmt* get() { return statement_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* statement_ = nullptr;
};

Statement& bind_key(Statement& statement, const std::string& device, const BlockSpec& spec) {
  return statement.bind(1, device)
      .bind(2, spec.alternative)
      .bind(3, spec.channels)
      .bind(4, spec.height)
      .bind(5, spec.width);
}

}  // namespace

LatencyStore::LatencyStore(const std::filesystem::path& database) {
  if (database.has_parent_path()) std::filesystem::create_directories(database.parent_path());
  if (sqlite3_open(database.c_str(), &db_) != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error(database.string() + ": " + message);
  }
  sqlite3_busy_timeout(db_, 5000);
  const char* schema =
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE IF NOT EXISTS block_latency ("
      " device TEXT NOT NULL, alternative TEXT NOT NULL, channels INTEGER NOT NULL,"
      " height INTEGER NOT NULL, width INTEGER NOT NULL,"
      " median_ms REAL NOT NULL, p10_ms REAL NOT NULL, p90_ms REAL NOT NULL, runs INTEGER NOT NULL,"
      " measured_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
      " PRIMARY KEY (device, alternative, channels, height, width));";
  char* error = nullptr;
  if (sqlite3_exec(db_, schema, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    sqlite3_close(db_);
    throw std::runtime_error(database.string() + ": " + message);
  }
}

LatencyStore::~LatencyStore() { sqlite3_close(db_); }

std::optional<LatencyStats> LatencyStore::find(const std::string& device, const BlockSpec& spec) {
  std::lock_guard lock(mutex_);
  Statement query(db_,
                  "SELECT median_ms, p10_ms, p90_ms, runs FROM block_latency WHERE device=?1 AND "
                  "alternative=?2 AND channels=?3 AND height=?4 AND width=?5");
  bind_key(query, device, spec);
  if (!query.step()) return std::nullopt;
  return LatencyStats{sqlite3_column_double(query.get(), 0), sqlite3_column_double(query.get(), 1),
                      sqlite3_column_double(query.get(), 2), sqlite3_column_int(query.get(), 3)};
}

void LatencyStore::put(const std::string& device, const BlockSpec& spec,
                       const LatencyStats& stats) {
  std::lock_guard lock(mutex_);
  Statement insert(
      db_,
      "INSERT OR REPLACE INTO block_latency (device, alternative, channels, height, "
      "width, median_ms, p10_ms, p90_ms, runs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  bind_key(insert, device, spec)
      .bind(6, stats.median_ms)
      .bind(7, stats.p10_ms)
      .bind(8, stats.p90_ms)
      .bind(9, stats.runs);
  insert.step();
}

int LatencyStore::count(const std::string& device) {
  std::lock_guard lock(mutex_);
  Statement query(db_, "SELECT COUNT(*) FROM block_latency WHERE device=?1");
  query.bind(1, device);
  query.step();
  return sqlite3_column_int(query.get(), 0);
}

}  // namespace ern::farm
