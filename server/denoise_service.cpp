#include "server/denoise_service.h"

#include <chrono>

#include "common/image_io.h"
#include "common/rpc_error.h"
#include "model/model_dir.h"
#include "model/tiled_inference.h"

namespace ern::server {
namespace {

constexpr int64_t kMaxPixels = 64'000'000;

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

}  // namespace

DenoiseServiceImpl::DenoiseServiceImpl(JobStore& store, ArtifactStore& artifacts)
    : store_(store), artifacts_(artifacts) {}

std::shared_ptr<DenoiseServiceImpl::LoadedModel> DenoiseServiceImpl::loaded(
    const v1::Model& model) {
  std::lock_guard lock(cache_mutex_);
  auto& entry = cache_[model.sha256()];
  if (!entry) {
    auto fresh = std::make_shared<LoadedModel>();
    fresh->network = load_model_dir(artifacts_.model_directory(model.sha256())).network;
    fresh->network->eval();
    entry = fresh;
    spdlog::info("model {} ({}) loaded for Denoise", model.id(), model.name());
  }
  return entry;
}

grpc::Status DenoiseServiceImpl::Denoise(grpc::ServerContext*, const v1::DenoiseRequest* request,
                                         v1::DenoiseResponse* response) {
  return guarded_rpc("Denoise", [&] {
    const auto started = std::chrono::steady_clock::now();
    if (request->image().empty()) throw std::invalid_argument("image: must not be empty");
    const std::string input_format = image_format(request->image());
    const cv::Mat input = decode_image(request->image());
    if (static_cast<int64_t>(input.rows) * input.cols > kMaxPixels) {
      throw std::invalid_argument("image: " + std::to_string(input.cols) + "x" +
                                  std::to_string(input.rows) + " is over the limit of " +
                                  std::to_string(kMaxPixels) + " pixels");
    }
    const std::string output_format =
        request->output_format().empty() ? input_format : request->output_format();

    v1::Model model;
    if (request->model().empty()) {
      const auto fallback = store_.default_model();
      if (!fallback) {
        throw RpcError(grpc::StatusCode::FAILED_PRECONDITION,
                       "model: none named and no default model is set (ernctl models set-default)");
      }
      model = *fallback;
    } else {
      model = store_.model(request->model());
    }
    auto network = loaded(model);

    const auto queued = std::chrono::steady_clock::now();
    std::unique_lock busy(network->busy);
    const double queue_ms = milliseconds_since(queued);
    const auto inference_started = std::chrono::steady_clock::now();
    const cv::Mat output = denoise_image(network->network, input);
    const double inference_ms = milliseconds_since(inference_started);
    busy.unlock();

    response->set_image(encode_image(output, output_format));
    response->set_model(model.id());
    response->set_output_format(output_format);
    auto* timings = response->mutable_timings();
    timings->set_queue_ms(queue_ms);
    timings->set_inference_ms(inference_ms);
    timings->set_total_ms(milliseconds_since(started));
  });
}

}  // namespace ern::server
