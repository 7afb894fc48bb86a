#include "common/process_metrics.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace ern::metrics {
namespace {

// Fields of /proc/self/stat after the command name (which may hold spaces): field 3 is first.
std::vector<std::string> stat_fields() {
  std::ifstream file("/proc/self/stat");
  const std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  return {std::istream_iterator<std::string>(rest), std::istream_iterator<std::string>()};
}

double boot_time_seconds() {
  std::ifstream file("/proc/stat");
  std::string key;
  double value = 0;
  while (file >> key) {
    if (key == "btime") {
      file >> value;
      return value;
    }
    file.ignore(1 << 20, '\n');
  }
  return 0;
}

double open_fds() {
  double count = 0;
  std::error_code error;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator(); it.increment(error)) {
    ++count;
  }
  return count;
}

}  // namespace

void expose_process_metrics(Registry& registry) {
  static std::once_flag once;
  std::call_once(once, [&registry] {
    auto& cpu = registry
                    .counter("process_cpu_seconds_total",
                             "Total user and system CPU time spent in seconds.")
                    .with();
    auto& resident =
        registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.").with();
    auto& virtual_memory =
        registry.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.").with();
    auto& fds = registry.gauge("process_open_fds", "Number of open file descriptors.").with();
    auto& max_fds =
        registry.gauge("process_max_fds", "Maximum number of open file descriptors.").with();
    auto& start = registry
                      .gauge("process_start_time_seconds",
                             "Start time of the process since unix epoch in seconds.")
                      .with();
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    const auto fields = stat_fields();
    start.set(boot_time_seconds() + std::stod(fields.at(19)) / ticks);  // field 22: starttime
    // The hook lives as long as the process.
    static const auto hook =
        registry.on_scrape([&cpu, &resident, &virtual_memory, &fds, &max_fds, ticks, page] {
          const auto now = stat_fields();
          // fields 14 and 15: utime, stime; 23: vsize (bytes); 24: rss (pages)
          const double cpu_seconds = (std::stod(now.at(11)) + std::stod(now.at(12))) / ticks;
          if (cpu_seconds > cpu.value()) cpu.inc(cpu_seconds - cpu.value());
          virtual_memory.set(std::stod(now.at(20)));
          resident.set(std::stod(now.at(21)) * page);
          fds.set(open_fds());
          rlimit limit{};
          if (getrlimit(RLIMIT_NOFILE, &limit) == 0)
            max_fds.set(static_cast<double>(limit.rlim_cur));
        });
  });
}

}  // namespace ern::metrics
