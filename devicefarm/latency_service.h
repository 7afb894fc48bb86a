#pragma once
// ern.v1.LatencyService over the device farm: maps requests to DeviceFarm calls and errors to gRPC
// status codes (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION) with the field in the message.

#include "devicefarm/device_farm.h"
#include "ern/v1/latency.grpc.pb.h"

namespace ern::farm {

class LatencyServiceImpl final : public ern::v1::LatencyService::Service {
 public:
  explicit LatencyServiceImpl(DeviceFarm& farm) : farm_(farm) {}

  grpc::Status ListDevices(grpc::ServerContext*, const ern::v1::ListDevicesRequest*,
                           ern::v1::ListDevicesResponse* response) override;
  grpc::Status ProfileBlocks(grpc::ServerContext*, const ern::v1::ProfileBlocksRequest* request,
                             ern::v1::ProfileBlocksResponse* response) override;
  grpc::Status ProfileNetwork(grpc::ServerContext*, const ern::v1::ProfileNetworkRequest* request,
                              ern::v1::ProfileNetworkResponse* response) override;

 private:
  DeviceFarm& farm_;
};

}  // namespace ern::farm
