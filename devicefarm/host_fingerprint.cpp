#include "devicefarm/host_fingerprint.h"

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace ern::farm {
namespace {

std::string trimmed(const std::string& text) {
  const auto first = text.find_first_not_of(" \t");
  const auto last = text.find_last_not_of(" \t");
  return first == std::string::npos ? "" : text.substr(first, last - first + 1);
}

}  // namespace

std::string host_fingerprint() {
  // The first processor's fields (a host's cores are alike) and its flags.
  std::map<std::string, std::string> fields;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line) && !line.empty()) {
    const auto colon = line.find(':');
    if (colon != std::string::npos)
      fields.emplace(trimmed(line.substr(0, colon)), trimmed(line.substr(colon + 1)));
  }
  const auto field = [&](const std::string& name) {
    const auto found = fields.find(name);
    return found == fields.end() || found->second.empty() ? std::string("unknown") : found->second;
  };
  std::set<std::string> flags;
  std::istringstream words(field("flags"));
  for (std::string word; words >> word;) flags.insert(word);
  std::string isa;
  for (const char* name : {"avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                           "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8"}) {
    if (flags.count(name)) isa += std::string(isa.empty() ? "" : " ") + name;
  }
  std::ostringstream out;
  out << field("model name") << "; family " << field("cpu family") << " model " << field("model")
      << " stepping " << field("stepping") << "; cache " << field("cache size") << "; "
      << std::thread::hardware_concurrency() << " cpus; " << (isa.empty() ? "no avx2" : isa);
  return out.str();
}

}  // namespace ern::farm
