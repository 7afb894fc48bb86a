#include "devicefarm/latency_service.h"

#include <nlohmann/json.hpp>

#include "common/rpc_error.h"

namespace ern::farm {
namespace {

void fill(const LatencyStats& stats, ern::v1::LatencyStats* out) {
  out->set_median_ms(stats.median_ms);
  out->set_p10_ms(stats.p10_ms);
  out->set_p90_ms(stats.p90_ms);
  out->set_runs(stats.runs);
}

// Runs `body` as every RPC does, with the farm's own refusals as their status codes.
template <typename Body>
grpc::Status guarded(const char* method, Body&& body) {
  return guarded_rpc(method, [&] {
    try {
      body();
    } catch (const NotFoundError& error) {
      throw RpcError(grpc::StatusCode::NOT_FOUND, error.what());
    } catch (const PreconditionError& error) {
      throw RpcError(grpc::StatusCode::FAILED_PRECONDITION, error.what());
    }
  });
}

}  // namespace

void LatencyServiceImpl::check_caller(const grpc::ServerContext* context) const {
  if (!authorizer_) return;
  auth::Authorizer::authorize(authorizer_->authenticate(*context), auth::Action::kMeasureLatency);
}

grpc::Status LatencyServiceImpl::ListDevices(grpc::ServerContext* context,
                                             const ern::v1::ListDevicesRequest*,
                                             ern::v1::ListDevicesResponse* response) {
  return guarded("ListDevices", [&] {
    check_caller(context);
    for (const auto& profile : farm_.devices()) {
      auto* device = response->add_devices();
      device->set_id(profile.id);
      device->set_backend(profile.backend);
      device->set_threads(profile.threads);
      device->set_description(profile.description);
    }
  });
}

grpc::Status LatencyServiceImpl::ProfileBlocks(grpc::ServerContext* context,
                                               const ern::v1::ProfileBlocksRequest* request,
                                               ern::v1::ProfileBlocksResponse* response) {
  return guarded("ProfileBlocks", [&] {
    check_caller(context);
    if (request->specs_size() == 0)
      throw std::invalid_argument("specs: at least one block spec is needed");
    std::vector<BlockSpec> specs;
    for (const auto& spec : request->specs()) {
      specs.push_back({spec.alternative(), spec.channels(), spec.height(), spec.width()});
    }
    for (const auto& result : farm_.profile_blocks(request->device_id(), specs)) {
      auto* out = response->add_results();
      out->mutable_spec()->set_alternative(result.spec.alternative);
      out->mutable_spec()->set_channels(result.spec.channels);
      out->mutable_spec()->set_height(result.spec.height);
      out->mutable_spec()->set_width(result.spec.width);
      fill(result.stats, out->mutable_stats());
      out->set_cached(result.cached);
    }
  });
}

grpc::Status LatencyServiceImpl::ProfileNetwork(grpc::ServerContext* context,
                                                const ern::v1::ProfileNetworkRequest* request,
                                                ern::v1::ProfileNetworkResponse* response) {
  return guarded("ProfileNetwork", [&] {
    check_caller(context);
    NafnetArchitecture architecture;
    try {
      architecture =
          NafnetArchitecture::from_json(nlohmann::json::parse(request->architecture_json()));
    } catch (const nlohmann::json::exception& error) {
      throw std::invalid_argument(std::string("architecture_json: ") + error.what());
    } catch (const std::invalid_argument& error) {
      throw std::invalid_argument(std::string("architecture_json: ") + error.what());
    }
    if (request->height() <= 0 || request->width() <= 0 || request->height() > 8192 ||
        request->width() > 8192) {
      throw std::invalid_argument("height/width: must be in 1..8192");
    }
    const auto measured = farm_.profile_network(request->device_id(), architecture,
                                                request->height(), request->width());
    fill(measured.stats, response->mutable_stats());
    response->set_peak_memory_bytes(measured.peak_memory_bytes);
  });
}

}  // namespace ern::farm
