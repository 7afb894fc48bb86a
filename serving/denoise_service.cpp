#include "serving/denoise_service.h"

#include <algorithm>
#include <set>

#include "common/auth/team_scope.h"
#include "common/rpc_error.h"
#include "inference/openmp_threads.h"
#include "model/tiled_inference.h"
#include "serving/denoise_codec.h"

namespace ern::serving {
namespace {

using Clock = DynamicBatcher::Clock;

constexpr size_t kStreamChunkBytes = 1 << 20;
// A burst that held at least this many pixels gives its heap pages back when it ends.
constexpr int64_t kTrimAfterPixels = 4'000'000;

double milliseconds_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// The call's deadline on the steady clock (none: far in the future).
Clock::time_point steady_deadline(const grpc::ServerContext& context) {
  const auto remaining = context.deadline() - std::chrono::system_clock::now();
  if (remaining > std::chrono::hours(24 * 365)) return Clock::time_point::max();
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(remaining);
}

// What the response reports about the batches an image's tiles ran in.
struct TimingTotals {
  double queue_ms = 0;
  double inference_ms = 0;
  int tiles = 0;
  int batch_size = 0;
  std::set<uint64_t> batches;

  void add(const BatchResult& result) {
    queue_ms = std::max(queue_ms, result.queue_ms);
    if (batches.insert(result.batch_id).second) inference_ms += result.inference_ms;
    batch_size = std::max(batch_size, result.batch_size);
    ++tiles;
  }
};

// app tokens may be limited to named models; every caller sees its team's models, the shipped
// ones and the default.
void require_denoise_access(const auth::Identity& caller, const v1::Model& model,
                            const std::string& requested) {
  if (!caller.models.empty() &&
      std::find_if(caller.models.begin(), caller.models.end(), [&](const std::string& allowed) {
        return allowed == model.name() || allowed == model.id();
      }) == caller.models.end()) {
    throw RpcError(grpc::StatusCode::PERMISSION_DENIED,
                   "model: this token may not call model " + model.name());
  }
  auth::require_visible(caller, model, requested.empty() ? model.name() : requested);
}

}  // namespace

DenoiseServiceImpl::CallSlot::CallSlot(std::atomic<int>& in_flight, int limit)
    : in_flight_(in_flight) {
  const int before = in_flight_.fetch_add(1);
  serving_metrics().in_flight.add(1);
  if (before >= limit) {
    in_flight_.fetch_sub(1);
    serving_metrics().in_flight.add(-1);
    throw RpcError(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        "too many Denoise calls in progress (limit " + std::to_string(limit) + "); retry later");
  }
}

DenoiseServiceImpl::CallSlot::~CallSlot() {
  in_flight_.fetch_sub(1);
  serving_metrics().in_flight.add(-1);
}

grpc::Status DenoiseServiceImpl::observed(
    const char* method, const grpc::ServerContext& context,
    const std::function<void(Call&, const auth::Identity&)>& body) {
  Call call;
  const auto status = guarded_rpc(method, [&] {
    const auto caller = authorizer_.authenticate(context);
    auth::Authorizer::authorize(caller, auth::Action::kDenoise);
    if (caller.role == auth::Role::kApp) app_rates_.admit_request(caller.token_id);
    body(call, caller);
  });
  auto& series = call.model ? *call.model->metrics : serving_metrics().unresolved;
  series.requests(status.error_code()).inc();
  if (status.ok()) {
    series.request_duration.observe(
        std::chrono::duration<double>(Clock::now() - call.started).count());
  }
  return status;
}

DenoiseServiceImpl::DenoiseServiceImpl(ModelCatalog& catalog, ServingOptions options,
                                       AppTokenQuota app_quota, auth::TokenVerifier& tokens)
    : options_(options),
      authorizer_(tokens),
      models_(catalog, options.max_loaded_models),
      batcher_(options.max_batch, options.max_queue_delay, options.max_queue, options.threads),
      pixels_(options.max_pixels_in_flight, options.pixel_budget_wait, kTrimAfterPixels),
      app_rates_(app_quota),
      idle_streams_(options.stream_idle_timeout) {}

void DenoiseServiceImpl::preload(const std::string& model_id) {
  set_openmp_threads_of_this_thread(1);  // loading is the caller's background work
  models_.acquire(model_id, [](const v1::Model&) {});
}

void DenoiseServiceImpl::serve(const v1::DenoiseRequest& request, const auth::Identity& caller,
                               Clock::time_point deadline, DynamicBatcher::Arrival& arrival,
                               Call& call, v1::DenoiseResponse& response) {
  const auto started = call.started;
  // (A call's own tensor work, conversion, tiling and blending, runs in an OpenMP team of the
  // call's thread: with one thread per call, batched forward passes under load (16 calls in
  // flight at 256x256, ern-bench-serving with its bare forwards on threads of their own) measured
  // about a quarter slower, 215 against 160 ms per batch of 8.)
  const RequestImage input = decode_request_image(request, options_.max_pixels, pixels_);
  if (caller.role == auth::Role::kApp) {
    app_rates_.admit_pixels(caller.token_id, int64_t{input.pixels.cols} * input.pixels.rows);
  }
  const std::string output_format = choose_output_format(request.output_format(), input);
  call.model = models_.acquire(request.model(), [&](const v1::Model& model) {
    require_denoise_access(caller, model, request.model());
  });
  const auto& model = call.model;

  TimingTotals totals;
  const BatchForward through_batcher = [&](const torch::Tensor& batch) {
    auto pending = batcher_.submit(model, batch, deadline);
    arrival.withdraw();
    std::vector<torch::Tensor> outputs;
    for (auto& result : pending) {
      auto done = result.get();
      totals.add(done);
      outputs.push_back(done.output);
    }
    return outputs.size() == 1 ? outputs.front() : torch::cat(outputs, 0);
  };
  cv::Mat output;
  try {
    c10::InferenceMode inference;
    output = denoise_image(through_batcher, model->image_channels, input.pixels,
                           {options_.tile, options_.overlap, options_.max_batch});
  } catch (const std::invalid_argument& error) {  // e.g. a channel count the network cannot take
    throw RpcError(grpc::StatusCode::INVALID_ARGUMENT, error.what());
  }

  encode_response_image(output, output_format, options_.png_compression, response);
  response.set_model(model->id);
  auto& timings = *response.mutable_timings();
  timings.set_queue_ms(totals.queue_ms);
  timings.set_inference_ms(totals.inference_ms);
  timings.set_tiles(totals.tiles);
  timings.set_batch_size(totals.batch_size);
  timings.set_total_ms(milliseconds_since(started));
}

grpc::Status DenoiseServiceImpl::Denoise(grpc::ServerContext* context,
                                         const v1::DenoiseRequest* request,
                                         v1::DenoiseResponse* response) {
  return observed("Denoise", *context, [&](Call& call, const auth::Identity& caller) {
    CallSlot slot(in_flight_, options_.max_concurrent_requests);
    DynamicBatcher::Arrival arrival(batcher_);
    const size_t size = request->ByteSizeLong();
    if (size > static_cast<size_t>(options_.max_message_bytes)) {
      throw RpcError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "request: " + std::to_string(size) + " bytes is over the unary limit of " +
                         std::to_string(options_.max_message_bytes) + "; use DenoiseStream");
    }
    serve(*request, caller, steady_deadline(*context), arrival, call, *response);
  });
}

v1::DenoiseRequest DenoiseServiceImpl::read_stream(
    grpc::ServerContext& context,
    grpc::ServerReaderWriter<v1::DenoiseStreamResponse, v1::DenoiseStreamRequest>& stream) {
  StreamIdleReaper::Watch watch(idle_streams_, context);
  const auto idle_error = [&] {
    return RpcError(grpc::StatusCode::DEADLINE_EXCEEDED,
                    "chunk: no message for " + std::to_string(idle_streams_.idle().count()) +
                        " ms (serving.stream_idle_timeout_ms); the stream was ended");
  };
  v1::DenoiseStreamRequest message;
  const bool received = stream.Read(&message);
  if (!received && watch.reaped()) throw idle_error();
  if (!received || !message.has_request()) {
    throw RpcError(grpc::StatusCode::INVALID_ARGUMENT,
                   "request: the first message must carry the request");
  }
  v1::DenoiseRequest request = message.request();
  const bool raw = request.input_case() == v1::DenoiseRequest::kRaw;
  std::string& bytes = raw ? *request.mutable_raw()->mutable_pixels() : *request.mutable_image();
  bytes.clear();
  do {
    watch.touch();
    if (static_cast<int64_t>(bytes.size() + message.chunk().size()) > options_.max_stream_bytes) {
      throw RpcError(grpc::StatusCode::RESOURCE_EXHAUSTED,
                     "chunk: the image is over the stream limit of " +
                         std::to_string(options_.max_stream_bytes) + " bytes");
    }
    bytes += message.chunk();
  } while (stream.Read(&message));
  if (watch.reaped()) throw idle_error();
  return request;
}

void DenoiseServiceImpl::write_stream(
    grpc::ServerContext& context, v1::DenoiseResponse response,
    grpc::ServerReaderWriter<v1::DenoiseStreamResponse, v1::DenoiseStreamRequest>& stream) {
  // The answer's bytes travel in chunks after a first message that carries everything else. A
  // client that stops reading them is ended like one that stops sending.
  StreamIdleReaper::Watch watch(idle_streams_, context);
  std::string bytes = response.has_raw() ? std::move(*response.mutable_raw()->mutable_pixels())
                                         : std::move(*response.mutable_image());
  if (response.has_raw()) {
    response.mutable_raw()->clear_pixels();
  } else {
    response.clear_image();
  }
  v1::DenoiseStreamResponse first;
  *first.mutable_response() = std::move(response);
  if (!stream.Write(first)) return;  // the client went away
  for (size_t at = 0; at < bytes.size(); at += kStreamChunkBytes) {
    watch.touch();
    v1::DenoiseStreamResponse chunk;
    chunk.set_chunk(bytes.substr(at, kStreamChunkBytes));
    if (!stream.Write(chunk)) return;
  }
}

grpc::Status DenoiseServiceImpl::DenoiseStream(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::DenoiseStreamResponse, v1::DenoiseStreamRequest>* stream) {
  return observed("DenoiseStream", *context, [&](Call& call, const auth::Identity& caller) {
    CallSlot slot(in_flight_, options_.max_concurrent_requests);
    DynamicBatcher::Arrival arrival(batcher_);
    const auto request = read_stream(*context, *stream);
    v1::DenoiseResponse response;
    serve(request, caller, steady_deadline(*context), arrival, call, response);
    write_stream(*context, std::move(response), *stream);
  });
}

}  // namespace ern::serving
