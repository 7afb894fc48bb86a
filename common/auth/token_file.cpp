#include "common/auth/token_file.h"

#include <fstream>
#include <stdexcept>

namespace ern::auth {
namespace {

constexpr size_t kMaxTokenBytes = 256;

bool is_token_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

}  // namespace

std::string read_token_file(const std::filesystem::path& file, const std::string& flag) {
  std::ifstream in(file);
  if (!in) throw std::invalid_argument("--" + flag + ": cannot read " + file.string());
  // A bounded read: the file may be anything, /dev/zero included. A first line longer than a token
  // is refused, never cut short.
  std::string head(kMaxTokenBytes + 2, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  std::string line = head.substr(0, head.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty() || line.size() > kMaxTokenBytes) {
    throw std::invalid_argument("--" + flag + ": " + file.string() + " holds no token");
  }
  for (const char c : line) {
    if (!is_token_character(c)) {
      throw std::invalid_argument("--" + flag + ": " + file.string() + " holds no token");
    }
  }
  return line;
}

}  // namespace ern::auth
