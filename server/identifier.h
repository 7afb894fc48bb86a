#pragma once
// Names that users choose (teams, model names) and that end up in ids, paths and labels.

#include <regex>
#include <stdexcept>
#include <string>

namespace ern::server {

// Throws std::invalid_argument "<field>: ..." unless `value` is 1..64 of [A-Za-z0-9._-], not
// starting with a dot (so never "." or "..").
inline void require_identifier(const char* field, const std::string& value) {
  static const std::regex kIdentifier("[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}");
  if (!std::regex_match(value, kIdentifier)) {
    throw std::invalid_argument(std::string(field) + ": '" + value.substr(0, 64) +
                                "' must be 1..64 characters of A-Z a-z 0-9 . _ -, not starting "
                                "with a dot");
  }
}

}  // namespace ern::server
