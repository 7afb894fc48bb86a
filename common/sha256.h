#pragma once
// SHA-256 of files and byte strings (hex), naming artifacts by their content.

#include <filesystem>
#include <string>
#include <string_view>

namespace ern {

std::string sha256_hex(std::string_view bytes);
std::string sha256_file_hex(const std::filesystem::path& path);
// 64 lowercase hex digits: the only artifact names that may become a path.
bool is_sha256_hex(std::string_view text);

}  // namespace ern
