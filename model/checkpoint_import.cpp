#include "model/checkpoint_import.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "model/tool_paths.h"

namespace ern {
namespace {

namespace fs = std::filesystem;

std::string from_env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const auto newline = text.rfind('\n');
  return newline == std::string::npos ? text : text.substr(newline + 1);
}

}  // namespace

NamedTensors read_reference_checkpoint(const fs::path& checkpoint) {
  if (!fs::is_regular_file(checkpoint)) {
    throw std::runtime_error(checkpoint.string() + ": no such file");
  }
  if (checkpoint.extension() == ".safetensors") return read_safetensors(checkpoint);

  const std::string python = from_env_or("ERN_PYTHON", ERN_DEFAULT_PYTHON);
  const fs::path script = fs::path(from_env_or("ERN_SCRIPTS_DIR", ERN_DEFAULT_SCRIPTS_DIR)) /
                          "convert-nafnet-checkpoint.py";
  TempDir temporary("ern-import");
  const fs::path converted = temporary / "weights.safetensors";
  const auto result =
      run_subprocess({python, script.string(), checkpoint.string(), converted.string()});
  if (result.exit_code != 0) {
    const std::string reason = last_line(result.output);
    throw std::runtime_error(reason.empty() ? checkpoint.string() + ": conversion failed (" +
                                                  python + " " + script.string() + ")"
                                            : reason);
  }
  return read_safetensors(converted);
}

}  // namespace ern
