#include "devicefarm/latency_store.h"

namespace ern::farm {
namespace {

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS block_latency ("
    " device TEXT NOT NULL, alternative TEXT NOT NULL, channels INTEGER NOT NULL,"
    " height INTEGER NOT NULL, width INTEGER NOT NULL,"
    " median_ms REAL NOT NULL, p10_ms REAL NOT NULL, p90_ms REAL NOT NULL, runs INTEGER NOT NULL,"
    " measured_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),"
    " PRIMARY KEY (device, alternative, channels, height, width));";

Statement& bind_key(Statement& statement, const std::string& device, const BlockSpec& spec) {
  return statement.bind(1, device)
      .bind(2, spec.alternative)
      .bind(3, spec.channels)
      .bind(4, spec.height)
      .bind(5, spec.width);
}

}  // namespace

LatencyStore::LatencyStore(const std::filesystem::path& database) : db_(database, kSchema) {}

std::optional<LatencyStats> LatencyStore::find(const std::string& device, const BlockSpec& spec) {
  std::lock_guard lock(mutex_);
  Statement query(db_,
                  "SELECT median_ms, p10_ms, p90_ms, runs FROM block_latency WHERE device=?1 AND "
                  "alternative=?2 AND channels=?3 AND height=?4 AND width=?5");
  bind_key(query, device, spec);
  if (!query.step()) return std::nullopt;
  return LatencyStats{query.real(0), query.real(1), query.real(2),
                      static_cast<int>(query.integer(3))};
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
  return static_cast<int>(query.integer(0));
}

}  // namespace ern::farm
