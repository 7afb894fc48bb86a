#pragma once
// What `search report` and `search front` share: the HTML page scripts/search_report.py draws from
// a JSON file with Debian's matplotlib.

#include <filesystem>
#include <string>

namespace ern::cli {

// `kind` "report" (a search's report.json) or "front" (search front --json) into one
// self-contained HTML page at `page`.
void draw_search_page(const std::string& kind, const std::filesystem::path& json,
                      const std::filesystem::path& page);

}  // namespace ern::cli
