#include "client/denoise_rpc.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "client/progress_bar.h"
#include "client/server_connection.h"
#include "common/atomic_file.h"
#include "ern/v1/denoise.grpc.pb.h"

namespace ern::cli {
namespace {

namespace fs = std::filesystem;

// Larger images go through DenoiseStream (the server's unary limit may be lower than gRPC's).
constexpr size_t kUnaryBytes = 16 << 20;
constexpr size_t kChunkBytes = 1 << 20;

v1::DenoiseResponse denoise_streamed(v1::DenoiseService::Stub& stub,
                                     const v1::DenoiseRequest& request,
                                     const ServerConnection& server) {
  auto context = server.context(600);
  auto stream = stub.DenoiseStream(context.get());
  v1::DenoiseStreamRequest first;
  *first.mutable_request() = request;
  first.mutable_request()->clear_image();
  bool writing = stream->Write(first);
  for (size_t at = 0; writing && at < request.image().size(); at += kChunkBytes) {
    v1::DenoiseStreamRequest chunk;
    chunk.set_chunk(request.image().substr(at, kChunkBytes));
    writing = stream->Write(chunk);
  }
  stream->WritesDone();
  v1::DenoiseResponse response;
  v1::DenoiseStreamResponse message;
  std::string image;
  while (stream->Read(&message)) {
    if (message.has_response()) response = message.response();
    image += message.chunk();
  }
  check_rpc(stream->Finish(), "DenoiseStream", server);
  response.set_image(std::move(image));
  return response;
}

v1::DenoiseResponse denoise_one(v1::DenoiseService::Stub& stub, const std::string& bytes,
                                const Arguments& args, const ServerConnection& server) {
  v1::DenoiseRequest request;
  request.set_image(bytes);
  request.set_model(args.value_or("model", ""));
  request.set_output_format(args.value_or("format", ""));
  if (bytes.size() > kUnaryBytes) return denoise_streamed(stub, request, server);
  v1::DenoiseResponse response;
  check_rpc(stub.Denoise(server.context(600).get(), request, &response), "Denoise", server);
  return response;
}

bool is_image_file(const fs::path& path) {
  static const std::set<std::string> kExtensions = {".png",  ".jpg", ".jpeg",
                                                    ".webp", ".tif", ".tiff"};
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), ::tolower);
  return fs::is_regular_file(path) && kExtensions.count(extension) > 0;
}

// The input's file name, with the extension of `format` when one is asked for.
fs::path output_name(const fs::path& input, const std::string& format) {
  fs::path name = input.filename();
  if (!format.empty()) name.replace_extension(format == "jpeg" ? ".jpg" : "." + format);
  return name;
}

double percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(q * values.size()))];
}

int denoise_folder(const fs::path& input, const fs::path& output, const Arguments& args) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(input)) {
    if (is_image_file(entry.path())) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) throw UsageError(input.string() + ": no PNG, JPEG, WebP or TIFF images");
  fs::create_directories(output);
  const int concurrency = static_cast<int>(args.integer_or("concurrency", 4, 1, 256));
  const auto server = connect_to_server(args);
  auto stub = v1::DenoiseService::NewStub(server.channel);

  std::mutex mutex;
  std::vector<double> latencies_ms;
  std::vector<std::string> failures;
  std::set<std::string> models;
  std::atomic<size_t> next{0};
  ProgressBar progress(static_cast<int64_t>(files.size()));
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int i = 0; i < concurrency; ++i) {
    workers.emplace_back([&] {
      for (size_t index = next++; index < files.size(); index = next++) {
        const auto& file = files[index];
        const auto call_started = std::chrono::steady_clock::now();
        try {
          const auto response = denoise_one(*stub, read_input_file(file.string()), args, server);
          write_file_atomically(output / output_name(file, args.value_or("format", "")),
                                response.image());
          const double ms = std::chrono::duration<double, std::milli>(
                                std::chrono::steady_clock::now() - call_started)
                                .count();
          std::lock_guard lock(mutex);
          latencies_ms.push_back(ms);
          models.insert(response.model());
        } catch (const std::exception& error) {
          std::lock_guard lock(mutex);
          failures.push_back(file.filename().string() + ": " + error.what());
        }
        std::lock_guard lock(mutex);
        const size_t done = latencies_ms.size() + failures.size();
        progress.update(static_cast<int64_t>(done), std::to_string(failures.size()) + " failed");
      }
    });
  }
  for (auto& worker : workers) worker.join();
  progress.finish();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (const auto& failure : failures) std::fprintf(stderr, "failed: %s\n", failure.c_str());
  std::string model_list;
  for (const auto& model : models) model_list += (model_list.empty() ? "" : ", ") + model;
  std::printf(
      "denoised %zu of %zu images into %s in %.1f s: %.2f images/s, latency p50 %.1f ms, p95 "
      "%.1f ms (%d in flight; model %s)\n",
      latencies_ms.size(), files.size(), output.c_str(), seconds, latencies_ms.size() / seconds,
      percentile(latencies_ms, 0.5), percentile(latencies_ms, 0.95), concurrency,
      model_list.c_str());
  return failures.empty() ? 0 : 1;
}

}  // namespace

int denoise_on_server(const Arguments& args) {
  const fs::path input = args.positional(0, "INPUT");
  const fs::path output = args.required("o");
  if (fs::is_directory(input)) return denoise_folder(input, output, args);

  const auto server = connect_to_server(args);
  auto stub = v1::DenoiseService::NewStub(server.channel);
  const auto response = denoise_one(*stub, read_input_file(input.string()), args, server);
  write_file_atomically(output, response.image());
  std::printf("wrote %s (%s, model %s; inference %.1f ms, queue %.1f ms, total %.1f ms)\n",
              output.c_str(), response.output_format().c_str(), response.model().c_str(),
              response.timings().inference_ms(), response.timings().queue_ms(),
              response.timings().total_ms());
  return 0;
}

}  // namespace ern::cli
