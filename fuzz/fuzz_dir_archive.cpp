// Directory archives as uploads bring them: unpacking either writes files inside the target
// directory or throws std::runtime_error, and never writes outside it.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "common/dir_archive.h"

namespace fs = std::filesystem;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fs::path root = fs::temp_directory_path() / ("ern-fuzz-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "target");
  const auto archive = root / "in.ernar";
  std::ofstream(archive, std::ios::binary).write(reinterpret_cast<const char*>(data), size);
  try {
    ern::unpack_directory(archive, root / "target");
  } catch (const std::runtime_error&) {
  }
  // Nothing but the archive and the target directory may exist under the root.
  for (const auto& entry : fs::directory_iterator(root)) {
    const auto name = entry.path().filename();
    if (name != "in.ernar" && name != "target") std::abort();
  }
  fs::remove_all(root);
  return 0;
}
