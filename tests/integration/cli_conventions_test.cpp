// The conventions every ERN binary keeps: --help and --version on every binary and ernctl command,
// global flags before or after the command, ERN_SERVER, documented exit codes, ids alone as the
// last line of commands that create something, and nothing on stdout before a call succeeds.

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/test_support.h"

namespace ern {
namespace {

namespace fs = std::filesystem;

SubprocessResult ernctl(std::vector<std::string> args) {
  args.insert(args.begin(), (test::bin_dir() / "ernctl").string());
  return test::run(args);
}

std::string last_line(const std::string& output) {
  std::string text = output;
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text.substr(text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1);
}

TEST(CliConventions, EveryBinaryAnswersHelpAndVersion) {
  for (const std::string binary :
       {"ernctl", "ern-coordinator", "ern-worker", "ern-devicefarm", "ern-serve",
        "ern-bench-inference", "ern-bench-serving", "ern-bench-quality", "ern-bench-gang"}) {
    const auto help = test::run({(test::bin_dir() / binary).string(), "--help"});
    EXPECT_EQ(help.exit_code, 0) << binary << ": " << help.output;
    EXPECT_EQ(help.output.rfind("usage: ", 0), 0u) << binary << ": " << help.output;
    const auto version = test::run({(test::bin_dir() / binary).string(), "--version"});
    EXPECT_EQ(version.exit_code, 0) << binary << ": " << version.output;
    EXPECT_EQ(version.output.rfind(binary + " ERN ", 0), 0u) << version.output;
    EXPECT_NE(version.output.find("commit "), std::string::npos) << version.output;
  }
}

// Every command ernctl --help lists answers --help with its own usage.
TEST(CliConventions, EveryErnctlCommandAnswersHelp) {
  const auto overview = ernctl({"--help"});
  ASSERT_EQ(overview.exit_code, 0);
  std::istringstream lines(overview.output);
  std::string line;
  int commands = 0;
  while (std::getline(lines, line)) {
    if (line.size() < 3 || line.rfind("  ", 0) != 0 || !std::islower(line[2])) continue;
    std::istringstream words(line);
    std::string command, sub;
    words >> command;
    if (command == "model" || command == "search" || command == "models" || command == "tokens") {
      words >> sub;
      command += " " + sub;
    }
    std::vector<std::string> args;
    std::istringstream split(command);
    for (std::string word; split >> word;) args.push_back(word);
    args.push_back("--help");
    const auto help = ernctl(args);
    EXPECT_EQ(help.exit_code, 0) << command << ": " << help.output;
    EXPECT_EQ(help.output.rfind("usage: ernctl " + command, 0), 0u) << help.output;
    // Each further line is another form of the same command or a continuation (indented).
    std::istringstream usage(help.output.substr(help.output.find('\n') + 1));
    for (std::string more; std::getline(usage, more);) {
      EXPECT_TRUE(more.empty() || more[0] == ' ' || more.rfind("ernctl " + command, 0) == 0)
          << help.output;
    }
    ++commands;
  }
  EXPECT_GE(commands, 26);
  EXPECT_EQ(ernctl({}).exit_code, 2);
  EXPECT_EQ(ernctl({"frobnicate"}).exit_code, 2);
}

TEST(CliConventions, GlobalFlagsBeforeTheCommandAndErnServerNameTheServer) {
  const std::string unreachable = "127.0.0.1:" + std::to_string(test::free_loopback_port());
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--server", unreachable, "search", "list"},
           {"--server=" + unreachable, "--token", "t", "search", "list"},
           {"search", "list", "--server", unreachable}}) {
    const auto listed = ernctl(args);
    EXPECT_EQ(listed.exit_code, 1) << listed.output;
    EXPECT_NE(listed.output.find("ListJobs on " + unreachable), std::string::npos) << listed.output;
    EXPECT_EQ(listed.output.find("STATE"), std::string::npos) << "a header before the error";
  }
  setenv("ERN_SERVER", unreachable.c_str(), 1);
  const auto from_environment = ernctl({"search", "list"});
  unsetenv("ERN_SERVER");
  EXPECT_NE(from_environment.output.find("ListJobs on " + unreachable), std::string::npos)
      << from_environment.output;
}

TEST(CliConventions, ExitCodesAndCreatedIdsOnALiveCoordinator) {
  const test::TempDir temp("cli-conventions");
  const fs::path& dir = temp.path();
  auto coordinator = test::start_coordinator(dir);
  const auto admin = test::admin_token(dir / "coordinator");
  const auto& address = coordinator->address();

  const auto missing = ernctl({"--server", address, "--token", admin, "search", "get", "job-x"});
  EXPECT_EQ(missing.exit_code, 3) << missing.output;
  const auto stranger = ernctl({"--server", address, "--token", "wrong", "models", "list"});
  EXPECT_EQ(stranger.exit_code, 4) << stranger.output;
  const auto viewer = test::create_token(address, admin, "default", "viewer");
  const auto denied =
      ernctl({"--server", address, "--token", viewer, "models", "set-default", "anything"});
  EXPECT_EQ(denied.exit_code, 4) << denied.output;

  const auto model = dir / "tiny";
  ASSERT_EQ(ernctl({"model", "init", "--width", "8", "--enc", "1,1", "--middle", "1", "--dec",
                    "1,1", "-o", model.string()})
                .exit_code,
            0);
  const auto imported = ernctl({"--server", address, "--token", admin, "models", "import",
                                model.string(), "--name", "tiny"});
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  const std::string id = last_line(imported.output);
  const auto got = ernctl({"--json", "--server", address, "--token", admin, "models", "get", id});
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_EQ(nlohmann::json::parse(got.output)["name"], "tiny");
  const auto as_json = ernctl({"--server", address, "--token", admin, "models", "import",
                               model.string(), "--name", "tiny-2", "--json"});
  ASSERT_EQ(as_json.exit_code, 0) << as_json.output;
  EXPECT_EQ(nlohmann::json::parse(as_json.output)["name"], "tiny-2");
}

}  // namespace
}  // namespace ern
