#include "tests/test_support.h"

#include <cstdlib>
#include <stdexcept>

#include <gtest/gtest.h>

namespace ern::test {
namespace {

std::string required_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    throw std::runtime_error(std::string(name) + " is not set; run the tests through ctest");
  }
  return value;
}

}  // namespace

std::filesystem::path source_dir() { return required_env("ERN_SOURCE_DIR"); }
std::filesystem::path bin_dir() { return required_env("ERN_BIN_DIR"); }
std::filesystem::path test_data_dir() { return required_env("ERN_TEST_DATA"); }
std::string python() { return required_env("ERN_PYTHON"); }

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
