#pragma once
// The baseline vs ERN-Net table of a search's report.json, as ernctl prints it.

#include <nlohmann/json.hpp>

namespace ern::cli {

void print_search_report(const nlohmann::json& report);

}  // namespace ern::cli
