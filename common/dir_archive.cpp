#include "common/dir_archive.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <set>
#include <stdexcept>
#include <vector>

namespace ern {
namespace {

namespace fs = std::filesystem;
constexpr char kMagic[] = "ERNAR1\n";
constexpr size_t kMagicSize = sizeof(kMagic) - 1;
constexpr size_t kCopyBuffer = 1 << 20;

template <typename T>
void write_le(std::ostream& out, T value) {
  char bytes[sizeof(T)];
  for (size_t i = 0; i < sizeof(T); ++i) bytes[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  out.write(bytes, sizeof(T));
}

template <typename T>
T read_le(std::istream& in, const fs::path& archive) {
  unsigned char bytes[sizeof(T)];
  if (!in.read(reinterpret_cast<char*>(bytes), sizeof(T))) {
    throw std::runtime_error(archive.string() + ": archive is truncated");
  }
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(bytes[i]) << (8 * i);
  return value;
}

void copy_bytes(std::istream& in, std::ostream& out, uint64_t count, const fs::path& archive) {
  std::vector<char> buffer(kCopyBuffer);
  while (count > 0) {
    const auto chunk = static_cast<std::streamsize>(std::min<uint64_t>(count, buffer.size()));
    if (!in.read(buffer.data(), chunk)) {
      throw std::runtime_error(archive.string() + ": archive is truncated");
    }
    out.write(buffer.data(), chunk);
    count -= static_cast<uint64_t>(chunk);
  }
}

// A relative path that stays inside the directory: no root, no "..", no empty parts.
bool is_safe_relative(const fs::path& path) {
  if (path.empty() || path.is_absolute() || path.has_root_name()) return false;
  for (const auto& part : path) {
    if (part == ".." || part == "." || part.empty()) return false;
  }
  return true;
}

// fsync of a file or directory; throws when the data cannot be made durable.
void sync_to_disk(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  const bool synced = fd >= 0 && ::fsync(fd) == 0;
  if (fd >= 0) ::close(fd);
  if (!synced) throw std::runtime_error(path.filename().string() + ": cannot sync to disk");
}

}  // namespace

void pack_directory(const fs::path& directory, const fs::path& archive,
                    const std::function<bool(const fs::path&)>& include) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(directory)) {
    if (!entry.is_regular_file()) continue;
    const auto relative = fs::relative(entry.path(), directory);
    if (!include || include(relative)) files.push_back(relative);
  }
  std::sort(files.begin(), files.end());

  const fs::path temporary = archive.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(temporary.string() + ": cannot write");
    out.write(kMagic, kMagicSize);
    for (const auto& relative : files) {
      const std::string name = relative.generic_string();
      write_le<uint32_t>(out, static_cast<uint32_t>(name.size()));
      out.write(name.data(), static_cast<std::streamsize>(name.size()));
      const fs::path source = directory / relative;
      write_le<uint64_t>(out, fs::file_size(source));
      std::ifstream in(source, std::ios::binary);
      copy_bytes(in, out, fs::file_size(source), source);
    }
    out.flush();
    if (!out) throw std::runtime_error(temporary.string() + ": write failed");
  }
  fs::rename(temporary, archive);
}

void unpack_directory(const fs::path& archive, const fs::path& directory) {
  std::ifstream in(archive, std::ios::binary);
  if (!in) throw std::runtime_error(archive.filename().string() + ": cannot read");
  char magic[kMagicSize];
  if (!in.read(magic, kMagicSize) || std::string(magic, kMagicSize) != kMagic) {
    throw std::runtime_error(archive.filename().string() + ": not an ERN directory archive");
  }
  fs::create_directories(directory);
  std::set<fs::path> directories;
  while (in.peek() != std::char_traits<char>::eof()) {
    const auto name_size = read_le<uint32_t>(in, archive);
    if (name_size == 0 || name_size > 4096) {
      throw std::runtime_error(archive.filename().string() + ": bad path length in archive");
    }
    std::string name(name_size, '\0');
    if (!in.read(name.data(), name_size)) {
      throw std::runtime_error(archive.filename().string() + ": archive is truncated");
    }
    const fs::path relative(name);
    if (!is_safe_relative(relative)) {
      throw std::runtime_error(archive.filename().string() + ": unsafe path in archive: " + name);
    }
    const auto size = read_le<uint64_t>(in, archive);
    const fs::path target = directory / relative;
    fs::create_directories(target.parent_path());
    const fs::path temporary = target.string() + ".tmp";
    {
      std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
      if (!out) throw std::runtime_error(temporary.filename().string() + ": cannot write");
      copy_bytes(in, out, size, archive);
      if (!out.flush()) throw std::runtime_error(temporary.filename().string() + ": write failed");
    }
    sync_to_disk(temporary);
    fs::rename(temporary, target);
    directories.insert(target.parent_path());
  }
  // The names, too: a crash after the caller's rename must not leave a directory of empty files.
  directories.insert(directory);
  for (const auto& written : directories) sync_to_disk(written);
}

}  // namespace ern
