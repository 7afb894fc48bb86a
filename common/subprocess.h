#pragma once
// Runs a helper program without a shell (arguments are passed as they are) and captures what it
// prints.

#include <string>
#include <vector>

namespace ern {

struct SubprocessResult {
  int exit_code = -1;  // -1 when the program could not be started or was killed by a signal
  std::string output;  // stdout and stderr together
};

SubprocessResult run_subprocess(const std::vector<std::string>& argv);

}  // namespace ern
