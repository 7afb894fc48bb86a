#pragma once
// What every ERN binary answers before it parses anything else: --help (its usage, exit 0) and
// --version (the version and the build).

#include <string>

namespace ern {

// "ERN 0.17.0 (commit 1a2b3c4d5e6f, built Dec  5 2026)"
std::string version_line();

// When argv holds --help or -h: prints `usage` to stdout and returns true (the caller exits 0).
// When it holds --version: prints `program` and version_line() and returns true.
bool answered_help_or_version(int argc, char** argv, const char* program, const char* usage);

}  // namespace ern
