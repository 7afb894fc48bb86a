#pragma once
// A device farm that comes and goes (restarts, rescheduling, a network blip) is an outage of
// infrastructure, not a failure of the job: every call is tried again with exponential backoff
// until it succeeds or the retry budget is spent. Other errors (an unknown device, a bad query)
// pass through at once.

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>

#include "model/latency_oracle.h"

namespace ern::farm {

// The farm stayed unreachable for the whole retry budget.
struct FarmUnreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class RetryingLatencyOracle final : public LatencyOracle {
 public:
  // `on_wait(true)` is called at least every quarter second while waiting (it may throw to give
  // up, e.g. when the task is cancelled), `on_wait(false)` once the farm answers again.
  RetryingLatencyOracle(LatencyOracle& farm, std::string farm_name, std::chrono::seconds budget,
                        std::function<void(bool waiting)> on_wait);

  std::vector<double> block_latencies_ms(const std::string& device,
                                         const std::vector<BlockQuery>& queries) override;
  NetworkLatency network_latency(const std::string& device, const NafnetArchitecture& architecture,
                                 int height, int width) override;
  void check_device(const std::string& device) override;

 private:
  template <typename Call>
  auto retried(const Call& call) -> decltype(call());

  LatencyOracle& farm_;
  const std::string farm_name_;
  const std::chrono::seconds budget_;
  const std::function<void(bool)> on_wait_;
};

}  // namespace ern::farm
