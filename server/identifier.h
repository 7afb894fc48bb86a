#pragma once
// Names that users choose (teams, model names) and that end up in ids, paths and labels.

#include <regex>
#include <stdexcept>
#include <string>

namespace ern::server {

// Throws std::invalid_argument "<field>: ..." unless `value` is 1..64 of [A-Za-z0-9._-].
inline void require_identifier(const char* field, const std::string& value) {
  static const std::regex kIdentifier("[A-Za-z0-9._-]{1,64}");
  if (!std::regex_match(value, kIdentifier)) {
    throw std::invalid_argument(std::string(field) + ": '" + value +
                                "' must be 1..64 characters of A-Z a-z 0-9 . _ -");
  }
}

}  // namespace ern::server
