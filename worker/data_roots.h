#pragma once
// The directories a worker reads training data and pretrained models from. A search spec's
// `data` and `init_model` come from whoever submitted the job: without this check any file the
// worker can read (/etc, a home directory) would be opened as a data set or a model.

#include <filesystem>
#include <string>
#include <vector>

namespace ern::worker {

class DataRoots {
 public:
  // `roots` empty: the working directory alone (where data/images and models/ live).
  explicit DataRoots(std::vector<std::filesystem::path> roots = {});

  // Throws std::invalid_argument "<field>: ..." unless `path` (relative paths from the working
  // directory; symbolic links followed) lies inside one of the roots. The message does not say
  // where the roots are.
  void require_inside(const char* field, const std::filesystem::path& path) const;

 private:
  std::vector<std::filesystem::path> roots_;  // canonical
};

// "DIR[,DIR...]" as the --data-roots flags take it.
std::vector<std::filesystem::path> parse_data_roots(const std::string& list);

}  // namespace ern::worker
