#include "common/directory_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <stdexcept>
#include <string>

namespace ern {

DirectoryLock::DirectoryLock(const std::filesystem::path& directory) {
  std::filesystem::create_directories(directory);
  const auto path = directory / "LOCK";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) throw std::runtime_error(path.string() + ": cannot open the lock file");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = "";
    const auto got = ::pread(fd_, holder, sizeof holder - 1, 0);
    ::close(fd_);
    throw std::runtime_error("data directory " + directory.string() +
                             " is in use by another process" +
                             (got > 0 ? " (pid " + std::string(holder, got) + ")" : ""));
  }
  // The pid only makes the message above more helpful; the lock is held either way.
  const std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
}

DirectoryLock::~DirectoryLock() { ::close(fd_); }

}  // namespace ern
