#pragma once
// Streams a stored file to a client in bounded chunks (checkpoints to workers, model archives to
// serving replicas).

#include <cstddef>
#include <fstream>
#include <functional>
#include <string>

namespace ern::server {

constexpr size_t kDownloadChunkBytes = 1 << 20;

// Calls `write` with each chunk of `in` in turn; false as soon as `write` returns false (the
// client went away).
inline bool send_in_chunks(std::ifstream& in, const std::function<bool(std::string_view)>& write) {
  std::string buffer(kDownloadChunkBytes, '\0');
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0) {
    if (!write(std::string_view(buffer.data(), static_cast<size_t>(in.gcount())))) return false;
  }
  return true;
}

}  // namespace ern::server
