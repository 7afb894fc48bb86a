// Denoise serving measured against the bare network in the same run: a coordinator started in
// this process on loopback (its real gRPC server, model pool and batcher), a model imported with
// ernctl, then
//   1. serving overhead: Denoise p50 at SIZE (one call at a time) vs the bare forward pass p50;
//   2. throughput under load: an async client keeps N calls in flight for a fixed count and
//      reports requests/s, p50/p95/p99 and errors, vs the images/s of bare batched forwards, the
//      fastest of alternating rounds on each side;
//   3. with --images DIR: PSNR and time per image at sigma 25, served model vs OpenCV's NLM.

#include <grpcpp/grpcpp.h>
#include <torch/torch.h>
#include <unistd.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include "client/arguments.h"
#include "common/auth/token_channel.h"
#include "common/auth/token_file.h"
#include "common/grpc_server.h"
#include "common/heap_tuning.h"
#include "common/image_io.h"
#include "common/program_info.h"
#include "common/subprocess.h"
#include "common/temp_dir.h"
#include "common/tls/transport_security.h"
#include "ern/v1/denoise.grpc.pb.h"
#include "inference/fused_nafnet.h"
#include "model/evaluation.h"
#include "model/image_metrics.h"
#include "model/model_dir.h"
#include "model/nlm_reference.h"
#include "model/noise.h"
#include "server/coordinator.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(q * values.size()))];
}

// Runs a command; returns its output's last line.
std::string run_or_throw(const std::vector<std::string>& argv) {
  const auto result = ern::run_subprocess(argv);
  if (result.exit_code != 0) throw std::runtime_error(argv[1] + " failed: " + result.output);
  std::string output = result.output;
  while (!output.empty() && output.back() == '\n') output.pop_back();
  return output.substr(output.rfind('\n') + 1);
}

ern::v1::DenoiseRequest request_for(const cv::Mat& image) {
  ern::v1::DenoiseRequest request;
  request.set_image(ern::encode_image(image, "png"));
  return request;
}

ern::v1::DenoiseRequest raw_request_for(const cv::Mat& image) {
  ern::v1::DenoiseRequest request;
  auto& raw = *request.mutable_raw();
  raw.set_width(image.cols);
  raw.set_height(image.rows);
  raw.set_channels(image.channels());
  raw.set_bit_depth(8);
  raw.set_pixels(reinterpret_cast<const char*>(image.data), image.total() * image.elemSize());
  return request;
}

std::vector<fs::path> sorted_photos(const fs::path& directory) {
  std::vector<fs::path> photos;
  for (const auto& entry : fs::directory_iterator(directory)) photos.push_back(entry.path());
  std::sort(photos.begin(), photos.end());
  if (photos.empty()) throw std::runtime_error(directory.string() + ": no photographs");
  return photos;
}

// What an application sends: the first photograph of `photos`' folder cropped (or scaled up) to
// side x side with sigma-25 noise, which a PNG holds as such images are held. Without photographs,
// uniform noise (incompressible: its PNG decodes as fast as stored bytes).
cv::Mat request_photo(const std::vector<fs::path>& photos, int side) {
  cv::Mat image(side, side, CV_8UC3);
  if (photos.empty()) {
    cv::randu(image, 0, 255);
    return image;
  }
  cv::Mat photo = ern::read_rgb8(photos.front());
  if (photo.cols < side || photo.rows < side) {
    const double scale = static_cast<double>(side) / std::min(photo.cols, photo.rows);
    cv::resize(photo, photo, cv::Size(), scale, scale, cv::INTER_CUBIC);
  }
  photo(cv::Rect((photo.cols - side) / 2, (photo.rows - side) / 2, side, side)).copyTo(image);
  return ern::add_gaussian_noise(image, 25.0, 7);
}

// Keeps `concurrency` calls in flight until `total` have finished; returns each call's latency.
struct LoadResult {
  std::vector<double> latencies_ms;
  std::vector<double> batch_sizes, inference_ms, queue_ms;
  int errors = 0;
  double seconds = 0;
};

LoadResult generate_load(ern::v1::DenoiseService::Stub& stub,
                         const ern::v1::DenoiseRequest& request, int concurrency, int total) {
  struct Call {
    grpc::ClientContext context;
    ern::v1::DenoiseResponse response;
    Clock::time_point started;
  };
  std::mutex mutex;
  std::condition_variable finished;
  LoadResult result;
  int started = 0, done = 0;
  std::function<void()> start_next = [&] {  // with mutex held
    if (started == total) return;
    ++started;
    auto* call = new Call;
    call->started = Clock::now();
    stub.async()->Denoise(&call->context, &request, &call->response,
                          [&, call](grpc::Status status) {
                            std::lock_guard lock(mutex);
                            if (status.ok()) {
                              result.latencies_ms.push_back(ms_since(call->started));
                              const auto& timings = call->response.timings();
                              result.batch_sizes.push_back(timings.batch_size());
                              result.inference_ms.push_back(timings.inference_ms());
                              result.queue_ms.push_back(timings.queue_ms());
                            } else {
                              ++result.errors;
                            }
                            delete call;
                            ++done;
                            start_next();
                            finished.notify_all();
                          });
  };
  const auto began = Clock::now();
  {
    std::unique_lock lock(mutex);
    for (int i = 0; i < concurrency; ++i) start_next();
    finished.wait(lock, [&] { return done == total; });
  }
  result.seconds = ms_since(began) / 1000.0;
  return result;
}

// Load on a running deployment (a replica, or `dns:///NAME:PORT` spread round_robin over every
// replica the name resolves to) instead of a coordinator started here: requests/s and latency.
int remote_load(const ern::cli::Arguments& args, int load_size, int concurrency, int requests) {
  const std::string target = args.required("server");
  const std::string token =
      args.has("token-file") ? ern::auth::read_token_file(args.required("token-file"), "token-file")
                             : "";
  grpc::ChannelArguments channel_arguments;
  channel_arguments.SetMaxReceiveMessageSize(ern::kMaxMessageBytes);
  const auto channel = ern::auth::channel_with_token(
      target, ern::tls::channel_credentials({args.value_or("ca", ""), "", ""}), channel_arguments,
      token);
  auto stub = ern::v1::DenoiseService::NewStub(channel);
  const auto request = request_for(request_photo({}, load_size));
  generate_load(*stub, request, concurrency, concurrency);  // warm-up (and a connection each)
  const auto load = generate_load(*stub, request, concurrency, requests);
  std::printf("%s: %dx%d PNG, %d calls, %d in flight\n", target.c_str(), load_size, load_size,
              requests, concurrency);
  std::printf("  %.2f requests/s   latency p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  errors %d\n",
              load.latencies_ms.size() / load.seconds, percentile(load.latencies_ms, 0.5),
              percentile(load.latencies_ms, 0.95), percentile(load.latencies_ms, 0.99),
              load.errors);
  return load.errors == 0 ? 0 : 1;
}

}  // namespace

namespace {
constexpr char kUsage[] =
    R"(usage: ern-bench-serving [--model DIR] [--size 512] [--load-size 256] [--concurrency 16]
                         [--requests 128] [--rounds 5] [--repeats 10] [--images DIR]
                         [--png-compression fast|none]
       ern-bench-serving --server TARGET [--token-file FILE] [--ca FILE] [--load-size 256]
                         [--concurrency 16] [--requests 128]     (load on a running deployment))";
}  // namespace

int main(int argc, char** argv) {
  if (ern::answered_help_or_version(argc, argv, "ern-bench-serving", kUsage)) return 0;
  ern::keep_freed_memory_in_heap();
  try {
    ern::cli::Arguments args(
        std::vector<std::string>(argv + 1, argv + argc),
        {"model", "size", "load-size", "concurrency", "requests", "rounds", "repeats", "images",
         "server", "token-file", "ca", "png-compression"});
    const int size = static_cast<int>(args.integer_or("size", 512, 16, 4096));
    const int load_size = static_cast<int>(args.integer_or("load-size", 256, 16, 4096));
    const int concurrency = static_cast<int>(args.integer_or("concurrency", 16, 1, 1024));
    const int requests = static_cast<int>(args.integer_or("requests", 128, 1, 1000000));
    const int repeats = static_cast<int>(args.integer_or("repeats", 10, 1, 10000));
    const int rounds = static_cast<int>(args.integer_or("rounds", 5, 1, 100));
    if (args.has("server")) return remote_load(args, load_size, concurrency, requests);
    const fs::path bin_dir = fs::read_symlink("/proc/self/exe").parent_path();
    const std::string ernctl = (bin_dir / "ernctl").string();

    // The same thread count here as the server's forward passes (one per core).
    torch::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
    ern::TempDir scratch("ern-bench-serving");
    fs::path model_dir = args.value_or("model", "");
    if (model_dir.empty()) {  // the demo's NAFNet skeleton with random weights
      model_dir = scratch / "model";
      run_or_throw({ernctl, "model", "init", "--width", "16", "--enc", "1,1,1,1", "--middle", "1",
                    "--dec", "1,1,1,1", "-o", model_dir.string()});
    }
    ern::server::CoordinatorConfig config;
    config.listen = "127.0.0.1:0";
    config.data_dir = scratch / "coordinator";
    config.shipped.directory = "";  // the registry holds the measured model alone
    config.promotion.images = "";   // and no quality gate scores it on a core the load needs
    config.serving.png_compression =
        ern::parse_png_compression(args.value_or("png-compression", "fast"), "--png-compression");
    const auto photos =
        args.has("images") ? sorted_photos(args.required("images")) : std::vector<fs::path>{};
    ern::server::Coordinator coordinator(config);
    const std::string address = coordinator.start();
    const std::string token =
        ern::auth::read_token_file(config.data_dir / "admin.token", "token-file");
    // The measured model becomes the default.
    const std::string model_id = run_or_throw(
        {ernctl, "models", "import", model_dir.string(), "--server", address, "--token", token});
    run_or_throw({ernctl, "models", "set-default", model_id, "--force", "--server", address,
                  "--token", token});
    grpc::ChannelArguments channel_arguments;
    // Denoised photographs come back as large as they went in (a PNG of several MB).
    channel_arguments.SetMaxReceiveMessageSize(ern::kMaxMessageBytes);
    auto channel = ern::auth::channel_with_token(address, grpc::InsecureChannelCredentials(),
                                                 channel_arguments, token);
    auto stub = ern::v1::DenoiseService::NewStub(channel);

    auto bare = ern::load_model_dir(model_dir);
    ern::inference::FusedNafnet engine(bare.network);  // the engine Denoise runs
    const auto forward_ms = [&](const torch::Tensor& input) {
      c10::InferenceMode inference;
      const auto started = Clock::now();
      engine.forward(input);
      return ms_since(started);
    };
    std::printf("model %s, %s; %d threads\n", model_dir.c_str(),
                bare.architecture.describe().c_str(), torch::get_num_threads());

    // Bare and served measurements alternate, so drift in the machine's speed touches both alike;
    // a short pause before each lets the other side's idle OpenMP threads stop spinning first
    // (longer ones let the cores slow down and every measurement with them).
    const auto settle = [] { std::this_thread::sleep_for(std::chrono::milliseconds(2)); };
    const auto serve_ms = [&](const ern::v1::DenoiseRequest& request,
                              ern::v1::DenoiseResponse& response) {
      grpc::ClientContext context;
      const auto started = Clock::now();
      const auto status = stub->Denoise(&context, request, &response);
      if (!status.ok()) throw std::runtime_error("Denoise: " + status.error_message());
      return ms_since(started);
    };

    // 1. Serving overhead, with PNG and with raw pixels in and out.
    struct Served {
      std::vector<double> end_to_end, server_total, server_forward;
      void add(double ms, const ern::v1::DenoiseResponse& response) {
        end_to_end.push_back(ms);
        server_total.push_back(response.timings().total_ms());
        server_forward.push_back(response.timings().inference_ms());
      }
    };
    const cv::Mat photo = request_photo(photos, size);
    const auto png_request = request_for(photo);
    const auto raw_request = raw_request_for(photo);
    // Channels-last, as Denoise decodes images, so neither side pays a layout change the other
    // does not.
    const auto channels_last = [](torch::Tensor images) {
      return images.contiguous(torch::MemoryFormat::ChannelsLast);
    };
    const auto input = channels_last(torch::rand({1, 3, size, size}));
    std::vector<double> bare_ms;
    Served png_served, raw_served;
    for (int i = 0; i <= repeats; ++i) {  // the first round warms up (and loads the model)
      ern::v1::DenoiseResponse png_response, raw_response;
      const double bare = forward_ms(input);
      settle();
      const double png = serve_ms(png_request, png_response);
      settle();
      const double raw = serve_ms(raw_request, raw_response);
      settle();
      if (i == 0) continue;
      bare_ms.push_back(bare);
      png_served.add(png, png_response);
      raw_served.add(raw, raw_response);
    }
    const double bare_p50 = percentile(bare_ms, 0.5);
    const auto row = [&](const char* name, const std::vector<double>& ms) {
      std::printf("  %-34s %9.1f   %.2fx the bare forward\n", name, percentile(ms, 0.5),
                  percentile(ms, 0.5) / bare_p50);
    };
    std::printf("\n%dx%d, one call at a time, %d repeats       p50 ms\n", size, size, repeats);
    std::printf("  %-34s %9.1f\n", "bare forward (serving path)", bare_p50);
    row("Denoise end to end, PNG in and out", png_served.end_to_end);
    row("  server side total", png_served.server_total);
    row("Denoise end to end, raw pixels", raw_served.end_to_end);
    row("  server side total", raw_served.server_total);
    row("  server side forward", raw_served.server_forward);

    // 2. Throughput under load, with PNG and with raw pixels, against the capacity of bare batched
    // forwards measured the same way (as many images back to back, sustained). Bare and loaded
    // rounds alternate and each side keeps its fastest round, as ern-bench-inference does: on a
    // shared machine a neighbour's burst then lowers a ratio only when it outlasts every round.
    std::printf("\n%dx%d, %d calls, %d in flight (async gRPC, loopback), fastest of %d rounds\n",
                load_size, load_size, requests, concurrency, rounds);
    const auto batch = channels_last(torch::rand({8, 3, load_size, load_size}));
    const int batches = std::max(1, requests / 8);
    const auto bare_capacity = [&] {
      settle();
      forward_ms(batch);  // warm-up
      double total_ms = 0;
      for (int i = 0; i < batches; ++i) total_ms += forward_ms(batch);
      return 8.0 * batches * 1000.0 / total_ms;
    };
    const cv::Mat load_photo = request_photo(photos, load_size);
    for (const bool raw_pixels : {false, true}) {
      const auto loaded = raw_pixels ? raw_request_for(load_photo) : request_for(load_photo);
      std::vector<double> bare_rounds, served_rounds;
      LoadResult fastest;
      int errors = 0;
      for (int round = 0; round < rounds; ++round) {
        bare_rounds.push_back(bare_capacity());
        settle();
        generate_load(*stub, loaded, concurrency, concurrency);  // warm-up
        auto load = generate_load(*stub, loaded, concurrency, requests);
        served_rounds.push_back(load.latencies_ms.size() / load.seconds);
        errors += load.errors;
        if (served_rounds.back() >= *std::max_element(served_rounds.begin(), served_rounds.end()))
          fastest = std::move(load);
      }
      const auto [bare_min, bare_max] = std::minmax_element(bare_rounds.begin(), bare_rounds.end());
      const auto [served_min, served_max] =
          std::minmax_element(served_rounds.begin(), served_rounds.end());
      std::printf("  bare forward, batch 8               %9.2f images/s (rounds %.2f to %.2f)\n",
                  *bare_max, *bare_min, *bare_max);
      std::printf(
          "  Denoise under load, %-15s %9.2f requests/s (rounds %.2f to %.2f)   %.2fx the bare "
          "capacity\n",
          raw_pixels ? "raw pixels" : "PNG", *served_max, *served_min, *served_max,
          *served_max / *bare_max);
      std::printf("    latency p50 %.1f ms  p95 %.1f ms  p99 %.1f ms; errors in all rounds %d\n",
                  percentile(fastest.latencies_ms, 0.5), percentile(fastest.latencies_ms, 0.95),
                  percentile(fastest.latencies_ms, 0.99), errors);
      std::printf(
          "    server side: batch size p50 %.0f, forward per batch p50 %.1f ms, queue p50 %.1f "
          "ms\n",
          percentile(fastest.batch_sizes, 0.5), percentile(fastest.inference_ms, 0.5),
          percentile(fastest.queue_ms, 0.5));
    }

    // 3. Quality and speed vs OpenCV's non-local means on real photographs.
    if (args.has("images")) {
      double noisy_db = 0, served_db = 0, nlm_db = 0, served_time = 0, nlm_time = 0;
      const double nlm_factor = ern::load_nlm_strength_if_present().factor(25.0);
      for (size_t i = 0; i < photos.size(); ++i) {
        const cv::Mat clean = ern::read_rgb8(photos[i]);
        const cv::Mat noisy = ern::add_gaussian_noise(clean, 25.0, 1000 + i);
        auto started = Clock::now();
        grpc::ClientContext context;
        ern::v1::DenoiseResponse response;
        const auto status = stub->Denoise(&context, request_for(noisy), &response);
        if (!status.ok()) throw std::runtime_error("Denoise: " + status.error_message());
        served_time += ms_since(started);
        started = Clock::now();
        const cv::Mat nlm = ern::nlm_denoise(noisy, 25.0, nlm_factor);
        nlm_time += ms_since(started);
        noisy_db += ern::psnr(clean, noisy);
        served_db += ern::psnr(clean, ern::decode_image(response.image()));
        nlm_db += ern::psnr(clean, nlm);
      }
      const double n = static_cast<double>(photos.size());
      std::printf("\n%zu photographs, sigma 25                PSNR dB   ms/image\n", photos.size());
      std::printf("  noisy input                         %9.2f\n", noisy_db / n);
      std::printf("  Denoise (served model)              %9.2f %10.1f\n", served_db / n,
                  served_time / n);
      std::printf("  OpenCV NLM                          %9.2f %10.1f   %.2fx Denoise's time\n",
                  nlm_db / n, nlm_time / n, nlm_time / served_time);
    }
    ern::shut_down(coordinator.running());
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ern-bench-serving: %s\n", error.what());
    return 1;
  }
}
