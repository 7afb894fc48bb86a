#include "client/arguments.h"

#include <cctype>
#include <fstream>
#include <sstream>

namespace ern::cli {
namespace {

template <typename T>
T parse_number(const std::string& flag, const std::string& text) {
  std::istringstream in(text);
  T value{};
  in >> value;
  if (text.empty() || in.fail() || !in.eof()) {
    throw UsageError("--" + flag + ": '" + text + "' is not a number");
  }
  return value;
}

}  // namespace

std::string read_input_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path + ": cannot read");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Arguments::Arguments(const std::vector<std::string>& args, const std::set<std::string>& value_flags,
                     const std::set<std::string>& switch_flags) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const bool long_flag = arg.size() > 2 && arg.rfind("--", 0) == 0;
    const bool short_flag = arg.size() == 2 && arg[0] == '-' && std::isalpha(arg[1]);
    if (!long_flag && !short_flag) {
      positionals_.push_back(arg);
      continue;
    }
    std::string name = arg.substr(long_flag ? 2 : 1);
    std::string value;
    const auto equals = name.find('=');
    const bool inline_value = equals != std::string::npos;
    if (inline_value) {
      value = name.substr(equals + 1);
      name = name.substr(0, equals);
    }
    if (switch_flags.count(name)) {
      if (inline_value) throw UsageError("--" + name + " takes no value");
      values_[name] = "true";
    } else if (value_flags.count(name)) {
      if (!inline_value) {
        if (i + 1 >= args.size()) throw UsageError("--" + name + " needs a value");
        value = args[++i];
      }
      values_[name] = value;
    } else {
      throw UsageError("unknown flag " + arg);
    }
  }
}

const std::string& Arguments::positional(size_t index, const std::string& name) const {
  if (index >= positionals_.size()) throw UsageError("missing " + name);
  return positionals_[index];
}

void Arguments::expect_positionals(size_t count, const std::string& usage) const {
  if (positionals_.size() != count) throw UsageError("usage: " + usage);
}

std::string Arguments::required(const std::string& flag) const {
  auto found = values_.find(flag);
  if (found == values_.end()) throw UsageError("--" + flag + " is required");
  return found->second;
}

std::string Arguments::value_or(const std::string& flag, const std::string& fallback) const {
  auto found = values_.find(flag);
  return found == values_.end() ? fallback : found->second;
}

long long Arguments::integer_or(const std::string& flag, long long fallback, long long min,
                                long long max) const {
  if (!has(flag)) return fallback;
  const auto value = parse_number<long long>(flag, values_.at(flag));
  if (value < min || value > max) {
    throw UsageError("--" + flag + ": must be in " + std::to_string(min) + ".." +
                     std::to_string(max) + ", got " + std::to_string(value));
  }
  return value;
}

double Arguments::number_or(const std::string& flag, double fallback, double min,
                            double max) const {
  if (!has(flag)) return fallback;
  const auto value = parse_number<double>(flag, values_.at(flag));
  if (value < min || value > max) {
    std::ostringstream message;
    message << "--" << flag << ": must be in " << min << ".." << max << ", got " << value;
    throw UsageError(message.str());
  }
  return value;
}

std::vector<double> Arguments::numbers_or(const std::string& flag,
                                          const std::vector<double>& fallback) const {
  if (!has(flag)) return fallback;
  std::vector<double> values;
  std::stringstream stream(values_.at(flag));
  std::string item;
  while (std::getline(stream, item, ',')) values.push_back(parse_number<double>(flag, item));
  if (values.empty()) throw UsageError("--" + flag + ": empty list");
  return values;
}

}  // namespace ern::cli
