#pragma once
// Crash-safe file writes: the content goes to a temporary name in the same directory, is flushed
// to disk, then renamed over the target, so readers see the old file or the new one, never half.

#include <filesystem>
#include <string_view>

namespace ern {

void write_file_atomically(const std::filesystem::path& path, std::string_view content);

}  // namespace ern
