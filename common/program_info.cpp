#include "common/program_info.h"

#include <cstdio>
#include <string_view>

#include "common/build_info.h"

namespace ern {

std::string version_line() {
  return std::string("ERN ") + ERN_VERSION + " (commit " + ERN_GIT_COMMIT + ", built " + __DATE__ +
         ")";
}

bool answered_help_or_version(int argc, char** argv, const char* program, const char* usage) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("%s\n", usage);
      return true;
    }
    if (arg == "--version") {
      std::printf("%s %s\n", program, version_line().c_str());
      return true;
    }
  }
  return false;
}

}  // namespace ern
