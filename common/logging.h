#pragma once
// One logging set-up for every ERN binary: spdlog to stderr, level from --log-level or
// ERN_LOG_LEVEL (trace, debug, info, warn, error, off).

#include <string>

namespace ern {

// Throws std::invalid_argument for an unknown level name.
void init_logging(const std::string& level = "");

}  // namespace ern
