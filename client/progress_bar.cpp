#include "client/progress_bar.h"

#include <unistd.h>

#include <cstdio>

namespace ern::cli {

std::string format_duration(double seconds) {
  const long total = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
  char text[32];
  if (total >= 3600) {
    std::snprintf(text, sizeof(text), "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
  } else {
    std::snprintf(text, sizeof(text), "%02ld:%02ld", total / 60, total % 60);
  }
  return text;
}

ProgressBar::ProgressBar(int64_t total)
    : total_(total > 0 ? total : 1),
      terminal_(isatty(STDERR_FILENO) != 0),
      started_(std::chrono::steady_clock::now()),
      last_print_(started_) {}

void ProgressBar::update(int64_t done, const std::string& detail, double eta_seconds) {
  const auto now = std::chrono::steady_clock::now();
  const bool last = done >= total_;
  if (!terminal_ && !last && now - last_print_ < std::chrono::seconds(5)) return;
  last_print_ = now;

  const double elapsed = std::chrono::duration<double>(now - started_).count();
  const double fraction = static_cast<double>(done) / static_cast<double>(total_);
  const double eta = eta_seconds >= 0 ? eta_seconds
                     : done > 0       ? elapsed * (1.0 - fraction) / fraction
                                      : 0.0;
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(filled, '=');
  if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, ' ');
  std::fprintf(stderr, "%sstep %lld/%lld [%s] %s ETA %s%s", terminal_ ? "\r" : "",
               static_cast<long long>(done), static_cast<long long>(total_), bar.c_str(),
               detail.c_str(), format_duration(eta).c_str(), terminal_ ? "\033[K" : "\n");
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (terminal_) std::fprintf(stderr, "\n");
}

}  // namespace ern::cli
