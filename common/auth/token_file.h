#pragma once
// Services read their bearer token from a file (a Kubernetes Secret mounted read-only, or the
// coordinator's DATA/admin.token), never from the command line where `ps` would show it.

#include <filesystem>
#include <string>

namespace ern::auth {

// The token on the file's first line, without surrounding whitespace. Throws
// std::invalid_argument naming `flag` when the file is missing, empty or not a token.
std::string read_token_file(const std::filesystem::path& file, const std::string& flag);

}  // namespace ern::auth
