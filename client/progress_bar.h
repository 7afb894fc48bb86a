#pragma once
// A one-line progress display on stderr: redrawn in place on a terminal, printed as a new line
// every few seconds otherwise (logs, CI).

#include <chrono>
#include <cstdint>
#include <string>

namespace ern::cli {

class ProgressBar {
 public:
  explicit ProgressBar(int64_t total);
  // `detail` follows the bar, e.g. "loss -28.1 lr 9.9e-04 35 img/s". The ETA is estimated from
  // this bar's own pace unless `eta_seconds` >= 0 gives it.
  void update(int64_t done, const std::string& detail, double eta_seconds = -1.0);
  void finish();

 private:
  int64_t total_;
  bool terminal_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_print_;
};

// "1:02:03" or "02:03".
std::string format_duration(double seconds);

}  // namespace ern::cli
