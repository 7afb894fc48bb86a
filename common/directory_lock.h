#pragma once
// An exclusive lock on a process's data directory, held for the process's lifetime: a second
// process pointed at the same directory (which would clear the first one's uploads in progress and
// write the same SQLite files) refuses to start instead. The kernel drops the lock when the
// process exits, however it exits.

#include <filesystem>

namespace ern {

class DirectoryLock {
 public:
  // Creates `directory` if needed; throws std::runtime_error when another process holds it.
  explicit DirectoryLock(const std::filesystem::path& directory);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace ern
