#include "devicefarm/latency_store.h"

namespace ern::farm {
namespace {

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS block_latency ("
    " device TEXT NOT NULL, alternative TEXT NOT NULL, channels INTEGER NOT NULL,"
    " height INTEGER NOT NULL, width INTEGER NOT NULL,"
    " median_ms REAL NOT NULL, p10_ms REAL NOT NULL, p90_ms REAL NOT NULL, runs INTEGER NOT NULL,"
    " measured_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
    " host TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY (device, alternative, channels, height, width));";

// Tables written before rows named their host get the column, empty: no host's.
void add_host_column(SqliteDatabase& db) {
  Statement columns(db,
                    "SELECT COUNT(*) FROM pragma_table_info('block_latency') WHERE name='host'");
  columns.step();
  if (columns.integer(0) == 0)
    db.exec("ALTER TABLE block_latency ADD COLUMN host TEXT NOT NULL DEFAULT ''");
}

Statement& bind_key(Statement& statement, const std::string& device, const BlockSpec& spec) {
  return statement.bind(1, device)
      .bind(2, spec.alternative)
      .bind(3, spec.channels)
      .bind(4, spec.height)
      .bind(5, spec.width);
}

}  // namespace

LatencyStore::LatencyStore(const std::filesystem::path& database, std::string host)
    : db_(database, kSchema), host_(std::move(host)) {
  add_host_column(db_);
}

std::optional<LatencyStats> LatencyStore::find(const std::string& device, const BlockSpec& spec) {
  std::lock_guard lock(mutex_);
  Statement query(db_,
                  "SELECT median_ms, p10_ms, p90_ms, runs FROM block_latency WHERE device=?1 AND "
                  "alternative=?2 AND channels=?3 AND height=?4 AND width=?5 AND host=?6");
  bind_key(query, device, spec).bind(6, host_);
  if (!query.step()) return std::nullopt;
  return LatencyStats{query.real(0), query.real(1), query.real(2),
                      static_cast<int>(query.integer(3))};
}

void LatencyStore::put(const std::string& device, const BlockSpec& spec,
                       const LatencyStats& stats) {
  std::lock_guard lock(mutex_);
  Statement insert(
      db_,
      "INSERT OR REPLACE INTO block_latency (device, alternative, channels, height, width, "
      "median_ms, p10_ms, p90_ms, runs, host) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  bind_key(insert, device, spec)
      .bind(6, stats.median_ms)
      .bind(7, stats.p10_ms)
      .bind(8, stats.p90_ms)
      .bind(9, stats.runs)
      .bind(10, host_);
  insert.step();
}

int LatencyStore::count_from_other_hosts() {
  std::lock_guard lock(mutex_);
  Statement query(db_, "SELECT COUNT(*) FROM block_latency WHERE host<>?1");
  query.bind(1, host_);
  query.step();
  return static_cast<int>(query.integer(0));
}

}  // namespace ern::farm
