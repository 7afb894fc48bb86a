#pragma once
// ern.v1.DenoiseService: applications' images denoised by registered models, through the model
// pool (hot swap), the dynamic batcher (bounded queue, deadlines) and the tiled path for images
// larger than a tile. Limits come from ServingOptions.

#include <atomic>
#include <chrono>
#include <functional>

#include "common/auth/authorizer.h"
#include "ern/v1/denoise.grpc.pb.h"
#include "serving/app_rate_limiter.h"
#include "serving/dynamic_batcher.h"
#include "serving/model_pool.h"
#include "serving/pixel_budget.h"
#include "serving/serving_options.h"
#include "serving/stream_idle_reaper.h"

namespace ern::serving {

class DenoiseServiceImpl final : public v1::DenoiseService::Service {
 public:
  // Callers need a token whose role may call Denoise (verified by `tokens`).
  DenoiseServiceImpl(ModelCatalog& catalog, ServingOptions options, AppTokenQuota app_quota,
                     auth::TokenVerifier& tokens);

  // Loads a model into the pool ahead of its first request (a replica's next default); throws
  // RpcError when it cannot be loaded.
  void preload(const std::string& model_id);

  grpc::Status Denoise(grpc::ServerContext* context, const v1::DenoiseRequest* request,
                       v1::DenoiseResponse* response) override;
  grpc::Status DenoiseStream(grpc::ServerContext* context,
                             grpc::ServerReaderWriter<v1::DenoiseStreamResponse,
                                                      v1::DenoiseStreamRequest>* stream) override;

 private:
  // Counts a call in progress; RESOURCE_EXHAUSTED beyond max_concurrent_requests.
  class CallSlot {
   public:
    CallSlot(std::atomic<int>& in_flight, int limit);
    ~CallSlot();

   private:
    std::atomic<int>& in_flight_;
  };

  // What the metrics record of a call: when it began and the model it resolved (if it got so far).
  struct Call {
    DynamicBatcher::Clock::time_point started = DynamicBatcher::Clock::now();
    std::shared_ptr<const ServingModel> model;
  };
  // Authenticates the caller, runs `body` as guarded_rpc does and records the call's status code
  // and duration.
  grpc::Status observed(const char* method, const grpc::ServerContext& context,
                        const std::function<void(Call&, const auth::Identity&)>& body);
  // `arrival`: announced when the call began (a stream's upload counts as work on its way).
  void serve(const v1::DenoiseRequest& request, const auth::Identity& caller,
             DynamicBatcher::Clock::time_point deadline, DynamicBatcher::Arrival& arrival,
             Call& call, v1::DenoiseResponse& response);
  v1::DenoiseRequest read_stream(
      grpc::ServerContext& context,
      grpc::ServerReaderWriter<v1::DenoiseStreamResponse, v1::DenoiseStreamRequest>& stream);
  void write_stream(
      grpc::ServerContext& context, v1::DenoiseResponse response,
      grpc::ServerReaderWriter<v1::DenoiseStreamResponse, v1::DenoiseStreamRequest>& stream);

  const ServingOptions options_;
  const auth::Authorizer authorizer_;
  ModelPool models_;
  DynamicBatcher batcher_;
  PixelBudget pixels_;
  AppRateLimiter app_rates_;
  StreamIdleReaper idle_streams_;
  std::atomic<int> in_flight_{0};
};

}  // namespace ern::serving
