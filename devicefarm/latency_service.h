#pragma once
// ern.v1.LatencyService over the device farm: checks the caller's token (role worker or admin)
// when the farm has a verifier, maps requests to DeviceFarm calls and errors to gRPC status codes
// (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION) with the field in the message.

#include <optional>

#include "common/auth/authorizer.h"
#include "devicefarm/device_farm.h"
#include "ern/v1/latency.grpc.pb.h"

namespace ern::farm {

class LatencyServiceImpl final : public ern::v1::LatencyService::Service {
 public:
  // Without a verifier every caller is let in: the coordinator's embedded farm on loopback.
  explicit LatencyServiceImpl(DeviceFarm& farm, auth::TokenVerifier* verifier = nullptr)
      : farm_(farm) {
    if (verifier) authorizer_.emplace(*verifier);
  }

  grpc::Status ListDevices(grpc::ServerContext*, const ern::v1::ListDevicesRequest*,
                           ern::v1::ListDevicesResponse* response) override;
  grpc::Status ProfileBlocks(grpc::ServerContext*, const ern::v1::ProfileBlocksRequest* request,
                             ern::v1::ProfileBlocksResponse* response) override;
  grpc::Status ProfileNetwork(grpc::ServerContext*, const ern::v1::ProfileNetworkRequest* request,
                              ern::v1::ProfileNetworkResponse* response) override;

 private:
  // Throws RpcError UNAUTHENTICATED / PERMISSION_DENIED (or UNAVAILABLE from the verifier).
  void check_caller(const grpc::ServerContext* context) const;

  DeviceFarm& farm_;
  std::optional<auth::Authorizer> authorizer_;
};

}  // namespace ern::farm
