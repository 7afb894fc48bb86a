#include "model/checkpoint_import.h"

#include <stdexcept>
#include <string>

#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "model/tool_paths.h"

namespace ern {
namespace {

namespace fs = std::filesystem;

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

  const std::string python = python_interpreter();
  const fs::path script = helper_script("convert-nafnet-checkpoint.py");
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
