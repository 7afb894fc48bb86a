#pragma once
// Crash-safe file writes: the content goes to a temporary name in the same directory, is flushed
// to disk, then renamed over the target, so readers see the old file or the new one, never half.

#include <sys/types.h>

#include <filesystem>
#include <string_view>

namespace ern {

// `mode` 0600 for secrets: the file never exists under either name with wider permissions.
void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           mode_t mode = 0644);

}  // namespace ern
