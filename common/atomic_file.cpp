#include "common/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ern {
namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path) {
  throw std::runtime_error(what + " " + path.string() + ": " + std::strerror(errno));
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view content,
                           mode_t mode) {
  const auto directory = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string temp_template =
      (directory / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = mkstemp(temp_template.data());
  if (fd < 0) fail("cannot create temporary file for", path);
  const std::filesystem::path temp_path(temp_template);

  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      std::filesystem::remove(temp_path);
      fail("cannot write", path);
    }
    written += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    std::filesystem::remove(temp_path);
    fail("cannot flush", path);
  }
  ::close(fd);
  if (std::rename(temp_path.c_str(), path.c_str()) != 0) {
    std::filesystem::remove(temp_path);
    fail("cannot rename temporary file onto", path);
  }
}

}  // namespace ern
