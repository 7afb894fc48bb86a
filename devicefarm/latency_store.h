#pragma once
// The farm's persistent lookup table: one row per (device, block spec), in SQLite (WAL), so a spec
// is measured once per device across restarts and jobs.

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "common/sqlite.h"
#include "devicefarm/measurement.h"

namespace ern::farm {

class LatencyStore {
 public:
  explicit LatencyStore(const std::filesystem::path& database);

  std::optional<LatencyStats> find(const std::string& device, const BlockSpec& spec);
  void put(const std::string& device, const BlockSpec& spec, const LatencyStats& stats);
  int count(const std::string& device);

 private:
  SqliteDatabase db_;
  std::mutex mutex_;
};

}  // namespace ern::farm
