#include "tests/test_support.h"

#include <stdexcept>

#include <gtest/gtest.h>

namespace ern::test {
std::filesystem::path source_dir() { return ERN_TEST_SOURCE_DIR; }
std::filesystem::path bin_dir() { return ERN_TEST_BIN_DIR; }
std::filesystem::path test_data_dir() { return ERN_TEST_DATA_DIR; }
std::string python() { return ERN_TEST_PYTHON; }

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "ern-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

SubprocessResult run(const std::vector<std::string>& argv) {
  auto result = run_subprocess(argv);
  EXPECT_NE(result.exit_code, -1) << "could not run " << argv[0] << ": " << result.output;
  return result;
}

}  // namespace ern::test
