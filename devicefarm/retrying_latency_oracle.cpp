#include "devicefarm/retrying_latency_oracle.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

namespace ern::farm {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kFirstDelay = 500ms;
constexpr auto kLongestDelay = 30s;
constexpr auto kSlice = 250ms;

}  // namespace

RetryingLatencyOracle::RetryingLatencyOracle(LatencyOracle& farm, std::string farm_name,
                                             std::chrono::seconds budget,
                                             std::function<void(bool waiting)> on_wait)
    : farm_(farm),
      farm_name_(std::move(farm_name)),
      budget_(budget),
      on_wait_(std::move(on_wait)) {}

template <typename Call>
auto RetryingLatencyOracle::retried(const Call& call) -> decltype(call()) {
  const auto started = Clock::now();
  std::chrono::milliseconds delay = kFirstDelay;
  bool waited = false;
  while (true) {
    try {
      auto result = call();
      if (waited) on_wait_(false);
      return result;
    } catch (const LatencyOracleUnavailable& error) {
      const auto waited_for = Clock::now() - started;
      if (waited_for >= budget_) {
        throw FarmUnreachable("device farm " + farm_name_ + " unreachable for " +
                              std::to_string(budget_.count()) + " s (" + error.what() + ")");
      }
      if (!waited) spdlog::warn("{}; waiting for the device farm", error.what());
      waited = true;
      // Never past the budget, so the last try comes just before it is spent.
      const auto until = Clock::now() + std::min<Clock::duration>(delay, budget_ - waited_for);
      while (Clock::now() < until) {
        on_wait_(true);
        std::this_thread::sleep_for(std::min<Clock::duration>(kSlice, until - Clock::now()));
      }
      delay = std::min<std::chrono::milliseconds>(delay * 2, kLongestDelay);
    }
  }
}

std::vector<double> RetryingLatencyOracle::block_latencies_ms(
    const std::string& device, const std::vector<BlockQuery>& queries) {
  return retried([&] { return farm_.block_latencies_ms(device, queries); });
}

NetworkLatency RetryingLatencyOracle::network_latency(const std::string& device,
                                                      const NafnetArchitecture& architecture,
                                                      int height, int width) {
  return retried([&] { return farm_.network_latency(device, architecture, height, width); });
}

void RetryingLatencyOracle::check_device(const std::string& device) {
  retried([&] {
    farm_.check_device(device);
    return true;  // retried() passes a value through
  });
}

}  // namespace ern::farm
