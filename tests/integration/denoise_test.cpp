// The Denoise service of a real ern-coordinator on loopback: formats and raw pixels, bad input,
// limits, load shedding, batching, streaming with tiles, and hot swap of the default model.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include <opencv2/core.hpp>

#include "common/image_io.h"
#include "ern/v1/denoise.grpc.pb.h"
#include "ern/v1/models.grpc.pb.h"
#include "tests/integration/denoise_fixture.h"

namespace ern {
namespace {

TEST_F(DenoiseTest, KeepsChannelsAlphaAndBitDepthForEncodedAndRawImages) {
  start("");  // the shipped config
  // 16-bit RGBA PNG in: 16-bit RGBA PNG out, alpha bit for bit.
  const cv::Mat rgba16 = random_image(40, 56, CV_16UC4);
  v1::DenoiseResponse response;
  auto status = call(encoded(rgba16), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.output_format(), "png");
  EXPECT_EQ(response.model(), "model-000001");
  const cv::Mat out = decode_image(response.image());
  ASSERT_EQ(out.type(), CV_16UC4);
  ASSERT_EQ(out.size(), rgba16.size());
  cv::Mat alpha_in, alpha_out;
  cv::extractChannel(rgba16, alpha_in, 3);
  cv::extractChannel(out, alpha_out, 3);
  EXPECT_EQ(cv::norm(alpha_in, alpha_out, cv::NORM_INF), 0.0);
  EXPECT_GT(response.timings().total_ms(), 0.0);
  EXPECT_EQ(response.timings().tiles(), 1u);

  // The same pixels raw: raw out, equal to the encoded path's answer.
  v1::DenoiseRequest raw;
  raw.mutable_raw()->set_width(rgba16.cols);
  raw.mutable_raw()->set_height(rgba16.rows);
  raw.mutable_raw()->set_channels(4);
  raw.mutable_raw()->set_bit_depth(16);
  raw.mutable_raw()->set_pixels(reinterpret_cast<const char*>(rgba16.data),
                                rgba16.total() * rgba16.elemSize());
  v1::DenoiseResponse raw_response;
  status = call(raw, &raw_response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(raw_response.has_raw());
  EXPECT_EQ(raw_response.output_format(), "raw");
  EXPECT_EQ(raw_response.raw().bit_depth(), 16u);
  EXPECT_EQ(raw_response.raw().pixels(),
            std::string(reinterpret_cast<const char*>(out.data), out.total() * out.elemSize()));

  // Gray 8-bit JPEG in, asked for as WebP: gray out.
  auto gray = encoded(random_image(33, 47, CV_8UC1), "jpeg");
  gray.set_output_format("webp");
  status = call(gray, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(image_format(response.image()), "webp");
  EXPECT_EQ(decode_image(response.image()).size(), cv::Size(47, 33));

  // A named model serves instead of the default.
  auto named = encoded(random_image(32, 32, CV_8UC3));
  named.set_model("second");
  ASSERT_TRUE(call(named, &response).ok());
  EXPECT_EQ(response.model(), "model-000002");
}

TEST_F(DenoiseTest, PngResponsesAreStoredWhenTheServerIsToldSo) {
  start("{png_compression: none}");
  const cv::Mat photo = random_image(40, 56, CV_8UC3);
  v1::DenoiseResponse png_response, raw_response;
  auto status = call(encoded(photo), &png_response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(png_response.image().size(), photo.total() * photo.elemSize())
      << "stored, not deflated";
  auto raw = encoded(photo);
  raw.set_output_format("raw");
  status = call(raw, &raw_response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const cv::Mat out = decode_image(png_response.image());
  EXPECT_EQ(raw_response.raw().pixels(),
            std::string(reinterpret_cast<const char*>(out.data), out.total() * out.elemSize()));
}

TEST_F(DenoiseTest, BadInputGetsAClearErrorAndTheServerStaysUpWithFlatMemory) {
  start("{max_pixels: 1000000}");
  const cv::Mat photo = random_image(48, 64, CV_8UC3);
  const std::string png = encode_image(photo, "png");
  std::string bomb("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);  // claims 50000 x 50000 pixels
  for (int repeat = 0; repeat < 2; ++repeat) {
    for (int shift = 24; shift >= 0; shift -= 8) bomb.push_back(char((50000 >> shift) & 0xFF));
  }
  bomb += std::string("\x08\x02\0\0\0", 5) + png.substr(29);

  struct Case {
    std::string name;
    v1::DenoiseRequest request;
    grpc::StatusCode code;
    std::string message;  // the error names this
  };
  std::vector<Case> cases;
  const auto add = [&](const std::string& name, grpc::StatusCode code, const std::string& message,
                       const std::function<void(v1::DenoiseRequest&)>& fill) {
    v1::DenoiseRequest request;
    fill(request);
    cases.push_back({name, request, code, message});
  };
  using grpc::StatusCode;
  add("empty", StatusCode::INVALID_ARGUMENT, "image: must not be empty", [](auto&) {});
  add("not an image", StatusCode::INVALID_ARGUMENT, "image: not a PNG",
      [](auto& r) { r.set_image("hello, world"); });
  add("truncated", StatusCode::INVALID_ARGUMENT, "image",
      [&](auto& r) { r.set_image(png.substr(0, png.size() / 2)); });
  add("truncated header", StatusCode::INVALID_ARGUMENT, "image: png header is truncated",
      [&](auto& r) { r.set_image(png.substr(0, 14)); });
  add("corrupt", StatusCode::INVALID_ARGUMENT, "image", [&](auto& r) {
    std::string damaged = png;
    for (size_t i = 60; i < damaged.size(); i += 7) damaged[i] = static_cast<char>(~damaged[i]);
    r.set_image(damaged);
  });
  add("decompression bomb", StatusCode::INVALID_ARGUMENT, "over the limit of 1000000 pixels",
      [&](auto& r) { r.set_image(bomb); });
  const auto raw = [&](auto& r, uint32_t w, uint32_t h, uint32_t c, uint32_t depth, size_t bytes) {
    r.mutable_raw()->set_width(w);
    r.mutable_raw()->set_height(h);
    r.mutable_raw()->set_channels(c);
    r.mutable_raw()->set_bit_depth(depth);
    r.mutable_raw()->set_pixels(std::string(bytes, '\x7f'));
  };
  add("raw zero width", StatusCode::INVALID_ARGUMENT, "raw.width",
      [&](auto& r) { raw(r, 0, 10, 3, 8, 0); });
  add("raw size mismatch", StatusCode::INVALID_ARGUMENT, "raw.pixels: 299 bytes",
      [&](auto& r) { raw(r, 10, 10, 3, 8, 299); });
  add("raw two channels", StatusCode::INVALID_ARGUMENT, "raw.channels",
      [&](auto& r) { raw(r, 10, 10, 2, 8, 200); });
  add("raw 12-bit", StatusCode::INVALID_ARGUMENT, "raw.bit_depth",
      [&](auto& r) { raw(r, 10, 10, 3, 12, 300); });
  add("raw too many pixels", StatusCode::INVALID_ARGUMENT, "over the limit",
      [&](auto& r) { raw(r, 2000, 1000, 1, 8, 1); });
  // Sides whose product overflows 64 bits (to a negative number, under any limit).
  add("raw sides overflow", StatusCode::INVALID_ARGUMENT, "over the limit",
      [&](auto& r) { raw(r, 4294901761u, 2147516416u, 1, 8, 1); });
  add("unknown model", StatusCode::NOT_FOUND, "no-such-model", [&](auto& r) {
    r.set_image(png);
    r.set_model("no-such-model");
  });
  add("unknown output format", StatusCode::INVALID_ARGUMENT, "output_format", [&](auto& r) {
    r.set_image(png);
    r.set_output_format("gif");
  });
  add("16-bit as jpeg", StatusCode::INVALID_ARGUMENT, "output_format: jpeg holds only 8-bit",
      [&](auto& r) {
        r.set_image(encode_image(random_image(20, 20, CV_16UC3), "png"));
        r.set_output_format("jpeg");
      });

  // Warm up (model loaded), then measure memory across many rounds of bad requests.
  v1::DenoiseResponse response;
  ASSERT_TRUE(call(encoded(photo), &response).ok());
  const int64_t before = resident_bytes(coordinator_->pid());
  for (int round = 0; round < 20; ++round) {
    for (const auto& bad : cases) {
      const auto status = call(bad.request, &response);
      if (round > 0) continue;
      EXPECT_EQ(status.error_code(), bad.code) << bad.name << ": " << status.error_message();
      EXPECT_NE(status.error_message().find(bad.message), std::string::npos)
          << bad.name << ": " << status.error_message();
    }
  }
  const int64_t after = resident_bytes(coordinator_->pid());
  EXPECT_LT(after - before, 32 << 20) << "resident memory grew from " << before << " to " << after;
  const auto status = call(encoded(photo), &response);
  EXPECT_TRUE(status.ok()) << "the server is still up: " << status.error_message();
}

TEST_F(DenoiseTest, FullQueueShedsLoadAtOnceAndOthersAreServed) {
  // One image at a time, two waiting: a burst of 12 must shed some and serve the rest.
  start("{max_queue: 2, max_batch: 1, max_queue_delay_us: 0}");
  const auto request = encoded(random_image(256, 256, CV_8UC3));
  std::atomic<int> ok{0}, shed{0}, other{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 12; ++i) {
    clients.emplace_back([&] {
      v1::DenoiseResponse response;
      const auto status = call(request, &response);
      if (status.ok()) {
        ++ok;
      } else if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        EXPECT_NE(status.error_message().find("queue is full"), std::string::npos);
        ++shed;
      } else {
        ADD_FAILURE() << status.error_message();
        ++other;
      }
    });
  }
  for (auto& client : clients) client.join();
  EXPECT_GT(ok.load(), 0);
  EXPECT_GT(shed.load(), 0);
  EXPECT_EQ(other.load(), 0);
}

TEST_F(DenoiseTest, ConcurrentSameSizeRequestsAreBatchedAndDeadlinesRespected) {
  start("{max_batch: 4, max_queue_delay_us: 300000}");
  const auto request = encoded(random_image(64, 64, CV_8UC3));
  v1::DenoiseResponse warm;
  ASSERT_TRUE(call(request, &warm).ok());
  EXPECT_LT(warm.timings().queue_ms(), 250) << "a lone request waited for companions";

  // A stream whose upload is still going on is work on its way: queued images wait for it (up to
  // the batching window) instead of running alone.
  grpc::ClientContext upload_context;
  auto upload = denoise_->DenoiseStream(&upload_context);
  v1::DenoiseStreamRequest first;
  first.mutable_request()->set_image("");  // the bytes follow in chunks
  ASSERT_TRUE(upload->Write(first));

  std::vector<v1::DenoiseResponse> responses(4);
  std::vector<std::thread> clients;
  for (auto& response : responses) {
    clients.emplace_back([&] { EXPECT_TRUE(call(request, &response).ok()); });
  }
  for (auto& client : clients) client.join();
  uint32_t largest = 0;
  for (const auto& response : responses)
    largest = std::max(largest, response.timings().batch_size());
  EXPECT_EQ(largest, 4u) << "four requests within the batching window did not run together";
  for (const auto& response : responses) EXPECT_EQ(response.image(), warm.image()) << "batched";

  // A deadline shorter than the batching window: the answer is DEADLINE_EXCEEDED, not an image.
  v1::DenoiseResponse late;
  EXPECT_EQ(call(request, &late, 50ms).error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);

  v1::DenoiseStreamRequest chunk;
  chunk.set_chunk(request.image());
  ASSERT_TRUE(upload->Write(chunk));
  upload->WritesDone();
  v1::DenoiseStreamResponse answer;
  ASSERT_TRUE(upload->Read(&answer));
  EXPECT_TRUE(answer.has_response());
  while (upload->Read(&answer)) {
  }
  EXPECT_TRUE(upload->Finish().ok());
}

TEST_F(DenoiseTest, LargeImagesStreamInChunksAndRunTiled) {
  // Unary messages up to 64 KiB; tiles of 64 pixels.
  start("{max_message_bytes: 65536, tile: 64, overlap: 8}");
  const cv::Mat big = random_image(150, 200, CV_8UC3);
  const std::string png = encode_image(big, "png");
  ASSERT_GT(png.size(), 65536u);
  v1::DenoiseResponse response;
  EXPECT_EQ(call(encoded(big), &response).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << "over the unary limit";

  grpc::ClientContext context;
  auto stream = denoise_->DenoiseStream(&context);
  v1::DenoiseStreamRequest first;
  first.mutable_request()->set_image("");
  first.mutable_request()->set_output_format("png");
  ASSERT_TRUE(stream->Write(first));
  for (size_t at = 0; at < png.size(); at += 16384) {
    v1::DenoiseStreamRequest chunk;
    chunk.set_chunk(png.substr(at, 16384));
    ASSERT_TRUE(stream->Write(chunk));
  }
  stream->WritesDone();
  v1::DenoiseStreamResponse message;
  ASSERT_TRUE(stream->Read(&message));
  ASSERT_TRUE(message.has_response());
  const auto header = message.response();
  std::string answer;
  while (stream->Read(&message)) answer += message.chunk();
  const auto status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GT(header.timings().tiles(), 1u);
  EXPECT_EQ(header.output_format(), "png");
  EXPECT_EQ(decode_image(answer).size(), big.size());
}

TEST_F(DenoiseTest, ErnctlDenoisesAFolderAndSummarizes) {
  start("{}");
  fs::create_directories(dir_ / "in");
  for (int i = 0; i < 5; ++i) {
    write_image(dir_ / "in" / ("photo" + std::to_string(i) + ".png"),
                random_image(40 + i, 50, CV_8UC3, i));
  }
  std::ofstream(dir_ / "in" / "notes.txt") << "not an image";
  const auto result =
      test::run({(test::bin_dir() / "ernctl").string(), "denoise", (dir_ / "in").string(), "-o",
                 (dir_ / "out").string(), "--format", "webp", "--concurrency", "3", "--server",
                 coordinator_->address()});
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("denoised 5 of 5 images"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("images/s"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("p95"), std::string::npos) << result.output;
  for (int i = 0; i < 5; ++i) {
    const cv::Mat out = read_image(dir_ / "out" / ("photo" + std::to_string(i) + ".webp"));
    EXPECT_EQ(out.size(), cv::Size(50, 40 + i));
  }
}

TEST_F(DenoiseTest, SwappingTheDefaultModelDropsNoRequest) {
  start("{}");
  auto models = v1::ModelService::NewStub(channel_);
  const auto request = encoded(random_image(96, 96, CV_8UC3));
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::mutex seen_mutex;
  std::set<std::string> seen;
  std::string latest;  // the model of the newest answer
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&] {
      while (!done) {
        v1::DenoiseResponse response;
        const auto status = call(request, &response);
        if (!status.ok()) {
          ++failures;
          ADD_FAILURE() << status.error_message();
          continue;
        }
        std::lock_guard lock(seen_mutex);
        seen.insert(response.model());
        latest = response.model();
      }
    });
  }
  for (int swap = 0; swap < 6; ++swap) {
    v1::SetDefaultModelRequest set;
    set.set_id(swap % 2 == 0 ? "second" : "first");
    v1::Model model;
    grpc::ClientContext context;
    ASSERT_TRUE(models->SetDefaultModel(&context, set, &model).ok());
    // Traffic goes on until answers come from the new default (a first load takes a while on a
    // busy machine).
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(seen_mutex);
        if (latest == model.id()) break;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  done = true;
  for (auto& client : clients) client.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(seen, (std::set<std::string>{"model-000001", "model-000002"}));
}

}  // namespace
}  // namespace ern
