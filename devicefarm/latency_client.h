#pragma once
// LatencyOracle over gRPC: how workers and `ernctl search run-local` reach ern-devicefarm.
// Failed calls throw std::runtime_error with the status code and the farm's message
// (LatencyOracleUnavailable when the farm cannot be reached, did not answer in time or had no
// server thread free).

#include <memory>
#include <string>

#include "common/tls/transport_security.h"
#include "ern/v1/latency.grpc.pb.h"
#include "model/latency_oracle.h"

namespace ern::farm {

class LatencyClient final : public LatencyOracle {
 public:
  // `tls`: how to dial (plaintext without a CA); `token`: a bearer token sent with every call.
  explicit LatencyClient(const std::string& address, const tls::ClientTls& tls = {},
                         const std::string& token = "");
  LatencyClient(const std::string& address,
                const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                const std::string& token);
  std::vector<double> block_latencies_ms(const std::string& device,
                                         const std::vector<BlockQuery>& queries) override;
  NetworkLatency network_latency(const std::string& device, const NafnetArchitecture& architecture,
                                 int height, int width) override;
  void check_device(const std::string& device) override;

 private:
  std::string address_;
  std::unique_ptr<ern::v1::LatencyService::Stub> stub_;
};

}  // namespace ern::farm
