#include "common/logging.h"

#include <cstdlib>
#include <stdexcept>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace ern {

void init_logging(const std::string& level) {
  std::string name = level;
  if (name.empty()) {
    const char* from_env = std::getenv("ERN_LOG_LEVEL");
    name = from_env ? from_env : "info";
  }
  const auto parsed = spdlog::level::from_str(name);
  if (parsed == spdlog::level::off && name != "off") {
    throw std::invalid_argument("log level: unknown '" + name +
                                "' (trace, debug, info, warn, error, off)");
  }
  auto logger = spdlog::stderr_color_mt("ern");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(logger);
}

}  // namespace ern
