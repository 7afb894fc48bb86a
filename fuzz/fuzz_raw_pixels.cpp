// Denoise requests as a client sends them (a serialized DenoiseRequest): raw pixels with their
// width, height, channels and bit depth, or encoded bytes. The codec either gives an image of the
// size the request claims, within the pixel limit, or refuses with a gRPC status.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>

#include "common/rpc_error.h"
#include "ern/v1/denoise.pb.h"
#include "serving/denoise_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ern::v1::DenoiseRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  constexpr int64_t kMaxPixels = 1 << 20;
  static ern::serving::PixelBudget budget(kMaxPixels, std::chrono::milliseconds(0), kMaxPixels);
  try {
    const auto image = ern::serving::decode_request_image(request, kMaxPixels, budget);
    if (static_cast<int64_t>(image.pixels.total()) > kMaxPixels) std::abort();
    if (request.input_case() == ern::v1::DenoiseRequest::kRaw &&
        (image.pixels.cols != static_cast<int>(request.raw().width()) ||
         image.pixels.rows != static_cast<int>(request.raw().height()))) {
      std::abort();
    }
    (void)ern::serving::choose_output_format(request.output_format(), image);
  } catch (const ern::RpcError&) {
  }
  if (budget.in_flight() != 0) std::abort();  // every image gave its pixels back
  return 0;
}
