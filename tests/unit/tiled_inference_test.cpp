#include "model/tiled_inference.h"

#include <gtest/gtest.h>

#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "common/image_io.h"
#include "model/dataset.h"
#include "model/tensor_image.h"
#include "tests/test_support.h"

namespace ern {
namespace {

// A small network whose every block is active (beta and gamma away from zero, as after
// training), so channel attention sees each tile's own statistics.
Nafnet active_network() {
  NafnetArchitecture arch;
  arch.width = 8;
  arch.encoder_blocks = {1, 1, 1};
  arch.middle_blocks = 1;
  arch.decoder_blocks = {1, 1, 1};
  torch::manual_seed(5);
  Nafnet network(arch);
  torch::NoGradGuard no_grad;
  for (auto& item : network->named_parameters()) {
    const auto& name = item.key();
    if (name.find("beta") != std::string::npos || name.find("gamma") != std::string::npos) {
      item.value().normal_(0.0, 0.05);
    }
  }
  network->eval();
  return network;
}

cv::Mat photograph(int side) {
  cv::Mat image = read_rgb8(list_images(test::test_data_dir() / "val").front());
  cv::resize(image, image, cv::Size(side, side), 0, 0, cv::INTER_CUBIC);
  return image;
}

TEST(TiledInference, TilesAreSeamlessOn1024Image) {
  auto network = active_network();
  const cv::Mat image = photograph(1024);
  TileOptions whole_image{1024, 0, 1};
  TileOptions tiled{256, 32, 4};
  const cv::Mat whole = denoise_image(network, image, whole_image);
  const cv::Mat tiles = denoise_image(network, image, tiled);
  cv::Mat difference;
  cv::absdiff(whole, tiles, difference);
  // Mean over all pixels and channels, on the 0..255 scale.
  const cv::Scalar per_channel = cv::mean(difference);
  const double mean_all = (per_channel[0] + per_channel[1] + per_channel[2]) / 3.0;
  std::printf("mean |tiled - whole| = %.4f / 255\n", mean_all);
  EXPECT_LT(mean_all, 0.5) << "mean |tiled - whole| in 8-bit levels";
  // And the network did something: output differs from input.
  cv::Mat change;
  cv::absdiff(whole, image, change);
  EXPECT_GT(cv::mean(change)[0], 0.5);
}

TEST(TiledInference, KeepsTypeChannelsAndAlpha) {
  auto network = active_network();
  cv::Mat rgba(70, 90, CV_8UC4);
  cv::randu(rgba, 0, 255);
  const cv::Mat out = denoise_image(network, rgba, {32, 8, 2});
  ASSERT_EQ(out.type(), CV_8UC4);
  std::vector<cv::Mat> in_planes, out_planes;
  cv::split(rgba, in_planes);
  cv::split(out, out_planes);
  EXPECT_EQ(cv::norm(in_planes[3], out_planes[3], cv::NORM_INF), 0.0) << "alpha untouched";

  cv::Mat gray16(40, 50, CV_16UC1);
  cv::randu(gray16, 0, 65535);
  const cv::Mat out16 = denoise_image(network, gray16);
  EXPECT_EQ(out16.type(), CV_16UC1);
  EXPECT_EQ(out16.size(), gray16.size());
}

TEST(TiledInference, RejectsBadTileOptions) {
  EXPECT_THROW((TileOptions{8, 0, 1}.validate()), std::invalid_argument);
  EXPECT_THROW((TileOptions{64, 32, 1}.validate()), std::invalid_argument);
  EXPECT_THROW((TileOptions{64, 8, 0}.validate()), std::invalid_argument);
}

}  // namespace
}  // namespace ern
