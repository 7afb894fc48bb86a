#pragma once
// Integers read from untrusted JSON. nlohmann's get<int>() converts any number, 1e48 included,
// without a range check (undefined behaviour, found by the fuzzers of fuzz/): these accept only
// integers that fit.

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

namespace ern {

// The value when it is an integer within [low, high]; nullopt otherwise (a float, a string,
// out of range).
inline std::optional<int64_t> json_integer(const nlohmann::json& value, int64_t low, int64_t high) {
  if (!value.is_number_integer()) return std::nullopt;
  if (value.is_number_unsigned()) {
    const uint64_t unsigned_value = value.get<uint64_t>();
    if (unsigned_value > static_cast<uint64_t>(high) || high < 0) return std::nullopt;
    return static_cast<int64_t>(unsigned_value);
  }
  const int64_t signed_value = value.get<int64_t>();
  if (signed_value < low || signed_value > high) return std::nullopt;
  return signed_value;
}

}  // namespace ern
