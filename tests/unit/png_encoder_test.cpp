// PNG responses: both compression settings decode (through OpenCV's libpng reader, not ERN's own
// decoder) to exactly the image written, at every bit depth and channel count a response can hold.

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "common/heap_tuning.h"
#include "common/image_io.h"
#include "tests/unit/libpng_reference.h"

namespace ern {
namespace {

cv::Mat smooth_image(int type) {  // a gradient with some texture: compressible, not constant
  cv::Mat image(48, 64, type);
  const double top = CV_MAT_DEPTH(type) == CV_16U ? 65535.0 : 255.0;
  cv::randu(image, 0, top / 8);
  for (int y = 0; y < image.rows; ++y) {
    image.row(y) += cv::Scalar::all(top * y / (2.0 * image.rows));
  }
  return image;
}

TEST(PngEncoder, EverySettingRoundTripsEveryLayout) {
  for (const int type : {CV_8UC1, CV_8UC3, CV_8UC4, CV_16UC1, CV_16UC3, CV_16UC4}) {
    const cv::Mat image = smooth_image(type);
    for (const auto compression : {PngCompression::kFast, PngCompression::kNone}) {
      const std::string png = encode_image(image, "png", compression);
      ASSERT_EQ(image_format(png), "png");
      const cv::Mat decoded = libpng_decoded(png);
      ASSERT_EQ(decoded.type(), image.type()) << type;
      EXPECT_EQ(cv::norm(decoded, image, cv::NORM_INF), 0.0)
          << "type " << type << ", compression " << static_cast<int>(compression);
    }
  }
}

// Uniform noise does not compress: the encoder falls back to stored blocks, several of them past
// 64 KiB, and the stream still fits the bound it was given.
TEST(PngEncoder, IncompressibleImagesRoundTrip) {
  for (const int type : {CV_8UC3, CV_16UC4}) {
    cv::Mat noise(300, 200, type);
    cv::randu(noise, 0, CV_MAT_DEPTH(type) == CV_16U ? 65536 : 256);
    const std::string png = encode_image(noise, "png", PngCompression::kFast);
    EXPECT_EQ(cv::norm(libpng_decoded(png), noise, cv::NORM_INF), 0.0) << type;
  }
}

TEST(PngEncoder, NoneStoresFastCompresses) {
  const cv::Mat image = smooth_image(CV_8UC3);
  const size_t raw = image.total() * image.elemSize();
  const size_t stored = encode_image(image, "png", PngCompression::kNone).size();
  const size_t fast = encode_image(image, "png", PngCompression::kFast).size();
  EXPECT_GT(stored, raw) << "stored blocks hold every byte (plus filter bytes and headers)";
  EXPECT_LT(fast, stored * 3 / 4);
}

// As in the servers: freed memory stays in the heap and the encoder's working buffers come back
// holding whatever an earlier call left. Here every 16-bit word held 8, which a deflate setting
// left unset reads as a 256-byte window: the same image must still give the same bytes.
TEST(PngEncoder, GivesTheSameBytesWhateverTheReusedMemoryHeld) {
  keep_freed_memory_in_heap();
  // Rows of one noisy pattern, shifted by a pixel per row and repeating every 7 rows: matches
  // from far back, which only a full window finds.
  cv::Mat pattern(1, 200, CV_8UC3), image(160, 160, CV_8UC3);
  cv::randu(pattern, 0, 256);
  for (int y = 0; y < image.rows; ++y) pattern.colRange(y % 7, y % 7 + 160).copyTo(image.row(y));
  const std::string first = encode_image(image, "png", PngCompression::kFast);
  for (int run = 0; run < 3; ++run) {
    {
      std::vector<uint16_t> freed(size_t{2} << 20, 8);
      ASSERT_EQ(freed.back(), 8);  // (read, so that the allocation is not left out)
    }
    EXPECT_EQ(encode_image(image, "png", PngCompression::kFast), first) << "run " << run;
  }
}

TEST(PngEncoder, SettingsAreNamedAndOthersRefused) {
  EXPECT_EQ(parse_png_compression("fast", "serving.png_compression"), PngCompression::kFast);
  EXPECT_EQ(parse_png_compression("none", "serving.png_compression"), PngCompression::kNone);
  try {
    parse_png_compression("max", "serving.png_compression");
    FAIL() << "accepted 'max'";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "serving.png_compression: must be fast or none, got 'max'");
  }
  EXPECT_THROW(encode_image(cv::Mat(4, 4, CV_8UC2, cv::Scalar::all(1)), "png"),
               std::invalid_argument);
  EXPECT_THROW(encode_image(cv::Mat(4, 4, CV_32FC3, cv::Scalar::all(1)), "png"),
               std::invalid_argument);
}

}  // namespace
}  // namespace ern
