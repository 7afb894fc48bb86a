#include "devicefarm/latency_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/auth/token_channel.h"

namespace ern::farm {
namespace {

// Measurements can take a while when a spec is new; whole networks even more.
constexpr auto kDeadline = std::chrono::minutes(10);

void check(const grpc::Status& status, const std::string& address, const char* method) {
  if (status.ok()) return;
  const std::string message = "device farm " + address + " " + method + ": " +
                              std::to_string(status.error_code()) + " " + status.error_message();
  // RESOURCE_EXHAUSTED: every thread of the farm's server is taken; one frees soon.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ||
      status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
    throw LatencyOracleUnavailable(message);
  }
  throw std::runtime_error(message);
}

std::unique_ptr<grpc::ClientContext> context_with_deadline() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + kDeadline);
  return context;
}

}  // namespace

LatencyClient::LatencyClient(const std::string& address, const tls::ClientTls& tls,
                             const std::string& token)
    : LatencyClient(address, tls::channel_credentials(tls), token) {}

LatencyClient::LatencyClient(const std::string& address,
                             const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                             const std::string& token)
    : address_(address),
      stub_(ern::v1::LatencyService::NewStub(
          auth::channel_with_token(address, credentials, grpc::ChannelArguments(), token))) {}

std::vector<double> LatencyClient::block_latencies_ms(const std::string& device,
                                                      const std::vector<BlockQuery>& queries) {
  ern::v1::ProfileBlocksRequest request;
  request.set_device_id(device);
  for (const auto& query : queries) {
    auto* spec = request.add_specs();
    spec->set_alternative(alternative_id(query.alternative));
    spec->set_channels(query.channels);
    spec->set_height(query.height);
    spec->set_width(query.width);
  }
  ern::v1::ProfileBlocksResponse response;
  check(stub_->ProfileBlocks(context_with_deadline().get(), request, &response), address_,
        "ProfileBlocks");
  std::vector<double> latencies;
  for (const auto& result : response.results()) latencies.push_back(result.stats().median_ms());
  if (latencies.size() != queries.size()) {
    throw std::runtime_error("device farm " + address_ + ": answered " +
                             std::to_string(latencies.size()) + " of " +
                             std::to_string(queries.size()) + " block specs");
  }
  return latencies;
}

NetworkLatency LatencyClient::network_latency(const std::string& device,
                                              const NafnetArchitecture& architecture, int height,
                                              int width) {
  ern::v1::ProfileNetworkRequest request;
  request.set_device_id(device);
  request.set_architecture_json(architecture.to_json().dump());
  request.set_height(height);
  request.set_width(width);
  ern::v1::ProfileNetworkResponse response;
  const auto status = stub_->ProfileNetwork(context_with_deadline().get(), request, &response);
  if (status.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
    throw NetworkLatencyUnavailable("device farm " + address_ + ": " + status.error_message());
  }
  check(status, address_, "ProfileNetwork");
  return {response.stats().median_ms(), response.stats().p10_ms(), response.stats().p90_ms(),
          response.peak_memory_bytes()};
}

void LatencyClient::check_device(const std::string& device) {
  ern::v1::ListDevicesResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  check(stub_->ListDevices(&context, {}, &response), address_, "ListDevices");
  std::string known;
  for (const auto& entry : response.devices()) {
    if (entry.id() == device) return;
    known += (known.empty() ? "" : ", ") + entry.id();
  }
  throw std::invalid_argument("device: '" + device + "' is not in the farm at " + address_ +
                              " (devices: " + known + ")");
}

}  // namespace ern::farm
