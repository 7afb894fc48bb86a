#pragma once
// Command-line arguments of one ernctl command: positionals and --flags. Each command declares the
// flags it knows; anything else is an error that names the flag.

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace ern::cli {

// Thrown for bad usage; main prints it as one line and exits with status 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The bytes of a file named on the command line; UsageError naming it when it cannot be read.
std::string read_input_file(const std::string& path);

class Arguments {
 public:
  // `value_flags` take a value (--name VALUE, --name=VALUE, or -n VALUE for one-letter names);
  // `switch_flags` do not.
  Arguments(const std::vector<std::string>& args, const std::set<std::string>& value_flags,
            const std::set<std::string>& switch_flags = {});

  const std::string& positional(size_t index, const std::string& name) const;
  size_t positional_count() const { return positionals_.size(); }
  void expect_positionals(size_t count, const std::string& usage) const;

  bool has(const std::string& flag) const { return values_.count(flag) > 0; }
  std::string required(const std::string& flag) const;
  std::string value_or(const std::string& flag, const std::string& fallback) const;
  long long integer_or(const std::string& flag, long long fallback, long long min,
                       long long max) const;
  double number_or(const std::string& flag, double fallback, double min, double max) const;
  std::vector<double> numbers_or(const std::string& flag,
                                 const std::vector<double>& fallback) const;

 private:
  std::vector<std::string> positionals_;
  std::map<std::string, std::string> values_;
};

}  // namespace ern::cli
