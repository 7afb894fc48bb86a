#pragma once
// A fresh directory under the system's temporary folder, removed with everything in it when the
// object goes away (however the scope ends).

#include <filesystem>
#include <string>

namespace ern {

class TempDir {
 public:
  // Creates TMP/<prefix>-XXXXXX; throws std::runtime_error when it cannot.
  explicit TempDir(const std::string& prefix = "ern");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace ern
