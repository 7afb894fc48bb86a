// PSNR and SSIM against scikit-image on real photographs with real noise and real denoising.

#include "model/image_metrics.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>
#include <sstream>

#include "common/image_io.h"
#include "model/dataset.h"
#include "model/noise.h"
#include "tests/test_support.h"

namespace ern {
namespace {

TEST(ImageMetrics, MatchScikitImageOnRealPhotographs) {
  test::TempDir dir;
  std::vector<std::string> argv = {
      test::python(), (test::source_dir() / "tests/python/skimage_metrics.py").string()};
  std::vector<std::pair<double, double>> ours;
  const auto images = list_images(test::test_data_dir() / "val");
  for (size_t i = 0; i < images.size(); ++i) {
    const cv::Mat clean = read_rgb8(images[i]);
    const double sigma = 10.0 + 15.0 * static_cast<double>(i);
    const cv::Mat noisy = add_gaussian_noise(clean, sigma, i);
    cv::Mat smoothed;
    cv::GaussianBlur(noisy, smoothed, cv::Size(5, 5), 1.2);
    for (const auto& [name, test_image] :
         {std::pair{"noisy", noisy}, std::pair{"smoothed", smoothed}}) {
      const auto clean_path = dir / ("clean" + std::to_string(i) + ".png");
      const auto test_path = dir / (std::string(name) + std::to_string(i) + ".png");
      write_image(clean_path, clean);
      write_image(test_path, test_image);
      argv.push_back(clean_path.string());
      argv.push_back(test_path.string());
      ours.emplace_back(psnr(clean, test_image), ssim(clean, test_image));
    }
  }
  const auto result = test::run(argv);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::istringstream lines(result.output);
  std::string line;
  size_t index = 0;
  while (std::getline(lines, line)) {
    ASSERT_LT(index, ours.size()) << line;
    const auto reference = nlohmann::json::parse(line);
    EXPECT_NEAR(ours[index].first, reference["psnr"].get<double>(), 0.01) << "pair " << index;
    EXPECT_NEAR(ours[index].second, reference["ssim"].get<double>(), 0.001) << "pair " << index;
    ++index;
  }
  EXPECT_EQ(index, ours.size());
}

TEST(ImageMetrics, IdenticalImagesAndMismatches) {
  cv::Mat a(32, 32, CV_8UC3, cv::Scalar(10, 20, 30));
  EXPECT_TRUE(std::isinf(psnr(a, a)));
  EXPECT_DOUBLE_EQ(ssim(a, a), 1.0);
  cv::Mat b(32, 33, CV_8UC3);
  EXPECT_THROW(psnr(a, b), std::invalid_argument);
  cv::Mat c(32, 32, CV_8UC1);
  EXPECT_THROW(ssim(a, c), std::invalid_argument);
}

TEST(ImageMetrics, PsnrOfKnownError) {
  cv::Mat a(16, 16, CV_8UC1, cv::Scalar(100));
  cv::Mat b(16, 16, CV_8UC1, cv::Scalar(110));  // MSE 100
  EXPECT_NEAR(psnr(a, b), 10.0 * std::log10(255.0 * 255.0 / 100.0), 1e-9);
}

}  // namespace
}  // namespace ern
