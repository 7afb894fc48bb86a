#include "client/search_pages.h"

#include <stdexcept>

#include "common/subprocess.h"
#include "model/tool_paths.h"

namespace ern::cli {

void draw_search_page(const std::string& kind, const std::filesystem::path& json,
                      const std::filesystem::path& page) {
  const auto drawn =
      run_subprocess({python_interpreter(), helper_script("search_report.py").string(), kind,
                      json.string(), "-o", page.string()});
  if (drawn.exit_code != 0) throw std::runtime_error(kind + ": " + drawn.output);
}

}  // namespace ern::cli
