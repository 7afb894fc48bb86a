#pragma once
// Unguessable values (tokens, fencing tokens, worker ids) from the kernel's CSPRNG.

#include <cstddef>
#include <string>

namespace ern::auth {

// `bytes` random bytes as lowercase hex (2 * bytes characters). Throws if the kernel cannot
// supply them.
std::string random_hex(size_t bytes);

// Equal strings, in time that does not depend on where they differ.
bool constant_time_equal(const std::string& a, const std::string& b);

}  // namespace ern::auth
