// ernctl model profile: a model directory's latency and peak inference memory, measured by a
// device farm (ProfileNetwork), e.g. to compare networks on the device a search targeted.

#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "client/arguments.h"
#include "client/commands.h"
#include "client/server_connection.h"
#include "devicefarm/latency_client.h"
#include "model/model_dir.h"

namespace ern::cli {
namespace {

// "256" or "HEIGHTxWIDTH", each in 1..8192 (the farm's own bound).
std::pair<int, int> parse_size(const std::string& text) {
  const auto x = text.find('x');
  auto side = [&](const std::string& part) {
    size_t used = 0;
    int value = 0;
    try {
      value = std::stoi(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != part.size() || value < 1 || value > 8192) {
      throw UsageError("--size: expected SIDE or HEIGHTxWIDTH with sides in 1..8192, got '" + text +
                       "'");
    }
    return value;
  };
  if (x == std::string::npos) return {side(text), side(text)};
  return {side(text.substr(0, x)), side(text.substr(x + 1))};
}

}  // namespace

int model_profile(const Args& raw) {
  Arguments args(raw, with_connection_flags({"devicefarm", "device", "size"}), {"json"});
  args.expect_positionals(
      1, "ernctl model profile DIR --devicefarm HOST:PORT [--device cpu-1t] [--size 256x256]");
  const std::filesystem::path directory = args.positional(0, "DIR");
  const auto architecture =
      NafnetArchitecture::from_json(read_model_json(directory)["architecture"]);
  const auto [height, width] = parse_size(args.value_or("size", "256x256"));
  const std::string device = args.value_or("device", "cpu-1t");
  farm::LatencyClient farm(args.value_or("devicefarm", "localhost:50052"), credentials_from(args),
                           token_from(args));
  const auto latency = farm.network_latency(device, architecture, height, width);
  if (args.has("json")) {
    const nlohmann::json result = {{"model", directory.string()},
                                   {"device", device},
                                   {"size", {height, width}},
                                   {"latency_ms", latency.median_ms},
                                   {"latency_p10_ms", latency.p10_ms},
                                   {"latency_p90_ms", latency.p90_ms},
                                   {"peak_memory_bytes", latency.peak_memory_bytes}};
    std::printf("%s\n", result.dump(2).c_str());
  } else {
    std::printf("%s on %s at %dx%d: %.3f ms (p10 %.3f, p90 %.3f), peak memory %.1f MiB\n",
                directory.c_str(), device.c_str(), height, width, latency.median_ms, latency.p10_ms,
                latency.p90_ms, static_cast<double>(latency.peak_memory_bytes) / (1 << 20));
  }
  return 0;
}

}  // namespace ern::cli
