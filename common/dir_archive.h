#pragma once
// A directory tree packed into one file and back: the unit the coordinator stores, hashes and
// streams (search checkpoints, model directories).
//
// Format: the magic "ERNAR1\n", then for each regular file (sorted by path): its relative path
// ('/'-separated) as u32 length + bytes, its size as u64, its bytes. Integers little-endian.

#include <filesystem>
#include <functional>
#include <string>

namespace ern {

// Files for which `include(relative_path)` is false are left out. The archive is written to a
// temporary name, then renamed.
void pack_directory(const std::filesystem::path& directory, const std::filesystem::path& archive,
                    const std::function<bool(const std::filesystem::path&)>& include = nullptr);

// Unpacks into `directory` (created; existing files of the same name replaced). Throws
// std::runtime_error for a damaged archive or a path that would leave `directory`.
void unpack_directory(const std::filesystem::path& archive, const std::filesystem::path& directory);

}  // namespace ern
