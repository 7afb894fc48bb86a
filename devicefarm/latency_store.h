#pragma once
// The farm's persistent lookup table: one row per (device, block spec), in SQLite (WAL), so a spec
// is measured once per device across restarts and jobs. Each row names the host that measured it
// (host_fingerprint.h); only this host's rows are served, others are measured again and replaced.

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "common/sqlite.h"
#include "devicefarm/measurement.h"

namespace ern::farm {

class LatencyStore {
 public:
  // `host`: this host's fingerprint (host_fingerprint.h), which its rows are stored under.
  LatencyStore(const std::filesystem::path& database, std::string host);

  const std::string& host() const { return host_; }

  std::optional<LatencyStats> find(const std::string& device, const BlockSpec& spec);
  void put(const std::string& device, const BlockSpec& spec, const LatencyStats& stats);
  int count_from_other_hosts();

 private:
  SqliteDatabase db_;
  const std::string host_;
  std::mutex mutex_;
};

}  // namespace ern::farm
