#pragma once
// What `search report` and `search front` share: a searched model's registered report.json, and
// the HTML page scripts/search_report.py draws from a JSON file with Debian's matplotlib.

#include <filesystem>
#include <string>

#include "client/server_connection.h"

namespace ern::cli {

// The report.json the model `model_id` was registered with.
std::string registered_report(const ServerConnection& server, const std::string& model_id);

// `kind` "report" (a search's report.json) or "front" (search front --json) into one
// self-contained HTML page at `page`.
void draw_search_page(const std::string& kind, const std::filesystem::path& json,
                      const std::filesystem::path& page);

}  // namespace ern::cli
