// ernctl denoise | noise | compare: single-image tools (denoise --local needs no server).

#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "client/arguments.h"
#include "client/commands.h"
#include "client/denoise_rpc.h"
#include "client/server_connection.h"
#include "common/image_io.h"
#include "model/image_metrics.h"
#include "model/model_dir.h"
#include "model/noise.h"
#include "model/tiled_inference.h"
#include "model/trainer.h"

namespace ern::cli {

int denoise(const Args& raw) {
  const std::string usage =
      "ernctl denoise INPUT|DIR -o OUTPUT|DIR2 [--model M] [--format png] [--concurrency 4] "
      "[--server HOST:PORT], or "
      "ernctl denoise --local DIR INPUT -o OUTPUT [--tile 512] [--overlap 64] [--device cpu]";
  Arguments args(raw, with_connection_flags({"local", "o", "tile", "overlap", "device", "model",
                                             "format", "concurrency"}));
  args.expect_positionals(1, usage);
  if (!args.has("local")) return denoise_on_server(args);
  const auto input_path = args.positional(0, "INPUT");
  const auto output_path = args.required("o");
  TileOptions tiles;
  tiles.tile = static_cast<int>(args.integer_or("tile", tiles.tile, 16, 8192));
  tiles.overlap = static_cast<int>(args.integer_or("overlap", tiles.overlap, 0, 4096));
  tiles.validate();
  const auto device = parse_device(args.value_or("device", "cpu"));

  const cv::Mat input = read_image(input_path);
  auto model = load_model_dir(args.required("local"));
  model.network->to(device);
  write_image(output_path, denoise_image(model.network, input, tiles));
  std::printf("wrote %s (%dx%d)\n", output_path.c_str(), input.cols, input.rows);
  return 0;
}

int noise(const Args& raw) {
  Arguments args(raw, {"sigma", "seed", "o"});
  args.expect_positionals(1, "ernctl noise INPUT --sigma 25 [--seed 0] -o OUTPUT");
  const double sigma = args.number_or("sigma", 25.0, 0.0, 255.0);
  const auto seed =
      static_cast<uint64_t>(args.integer_or("seed", 0, 0, std::numeric_limits<long long>::max()));
  const auto output_path = args.required("o");
  const cv::Mat clean = read_rgb8(args.positional(0, "INPUT"));
  write_image(output_path, add_gaussian_noise(clean, sigma, seed));
  std::printf("wrote %s (sigma %g, seed %llu)\n", output_path.c_str(), sigma,
              static_cast<unsigned long long>(seed));
  return 0;
}

int compare(const Args& raw) {
  Arguments args(raw, {}, {"json"});
  args.expect_positionals(2, "ernctl compare REFERENCE TEST [--json]");
  const cv::Mat reference = read_image(args.positional(0, "REFERENCE"));
  const cv::Mat test = read_image(args.positional(1, "TEST"));
  double psnr_value = 0, ssim_value = 0;
  try {
    psnr_value = psnr(reference, test);
    ssim_value = ssim(reference, test);
  } catch (const std::invalid_argument& error) {
    throw std::runtime_error(std::string("cannot compare: ") + error.what());
  }
  if (args.has("json")) {
    // JSON has no infinity: identical images report psnr null.
    nlohmann::json out = {
        {"psnr", std::isfinite(psnr_value) ? nlohmann::json(psnr_value) : nlohmann::json()},
        {"ssim", ssim_value}};
    std::cout << out.dump() << "\n";
  } else {
    std::printf("PSNR %.4f dB  SSIM %.5f\n", psnr_value, ssim_value);
  }
  return 0;
}

}  // namespace ern::cli
