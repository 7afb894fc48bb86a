#pragma once
// Paths and helpers shared by the tests; the paths are fixed when CMake configures the build
// (see tests/CMakeLists.txt).

#include <filesystem>
#include <string>
#include <vector>

#include "common/subprocess.h"

namespace ern::test {

std::filesystem::path source_dir();
std::filesystem::path bin_dir();
// data/images layout: train/ and val/ with real photographs.
std::filesystem::path test_data_dir();
std::string python();

// A fresh directory removed at the end of the test.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Runs a program, failing the test (with its output) if it cannot be started.
SubprocessResult run(const std::vector<std::string>& argv);

}  // namespace ern::test

namespace ern::test {

// A server binary started for a test: its log goes to a file, start-up waits for its
// "listening on HOST:PORT" line (port 0 in, the bound port out); destruction sends SIGTERM and
// waits for the exit.
class ServerProcess {
 public:
  ServerProcess(const std::string& binary, const std::vector<std::string>& args,
                const std::filesystem::path& log_file);
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  const std::string& address() const { return address_; }
  std::string log() const;
  // SIGTERM and wait; returns the exit status (or -1 when killed by a signal).
  int stop();

 private:
  int pid_ = -1;
  std::filesystem::path log_file_;
  std::string address_;
};

}  // namespace ern::test
