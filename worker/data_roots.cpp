#include "worker/data_roots.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace ern::worker {
namespace {

namespace fs = std::filesystem;

bool is_inside(const fs::path& path, const fs::path& root) {
  const auto mismatch = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return mismatch.first == root.end();
}

}  // namespace

DataRoots::DataRoots(std::vector<fs::path> roots) {
  if (roots.empty()) roots.push_back(fs::current_path());
  for (const auto& root : roots) roots_.push_back(fs::weakly_canonical(fs::absolute(root)));
}

void DataRoots::require_inside(const char* field, const fs::path& path) const {
  const auto resolved = fs::weakly_canonical(fs::absolute(path));
  for (const auto& root : roots_) {
    if (is_inside(resolved, root)) return;
  }
  throw std::invalid_argument(std::string(field) +
                              ": outside the directories this worker reads data from "
                              "(ern-worker --data-roots)");
}

std::vector<fs::path> parse_data_roots(const std::string& list) {
  std::vector<fs::path> roots;
  std::stringstream stream(list);
  for (std::string item; std::getline(stream, item, ',');) {
    if (item.empty())
      throw std::invalid_argument("--data-roots: an empty directory in '" + list + "'");
    roots.emplace_back(item);
  }
  return roots;
}

}  // namespace ern::worker
