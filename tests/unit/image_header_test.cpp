#include "common/image_header.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "common/image_io.h"

namespace ern {
namespace {

TEST(ImageHeader, ReadsTheSizeOfEveryFormatWithoutDecoding) {
  for (const auto& [width, height, channels] :
       std::vector<std::tuple<int, int, int>>{{37, 21, 3}, {300, 17, 1}, {64, 96, 4}}) {
    cv::Mat image(height, width, CV_8UC(channels));
    cv::randu(image, 0, 255);
    for (const std::string format : {"png", "jpeg", "webp", "tiff"}) {
      if (channels == 4 && format == "jpeg") continue;  // JPEG has no alpha
      const std::string bytes = encode_image(image, format);
      ASSERT_EQ(image_format(bytes), format);
      const auto dimensions = peek_image_dimensions(bytes, format);
      EXPECT_EQ(dimensions.width, width) << format;
      EXPECT_EQ(dimensions.height, height) << format;
    }
  }
}

TEST(ImageHeader, ReportsWhatAHeaderClaimsEvenWhenThePixelsAreMissing) {
  // A 33-byte PNG that claims 100000 x 80000 pixels: the check happens before any decoding.
  std::string bomb("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
  for (uint32_t value : {100000u, 80000u}) {
    for (int shift = 24; shift >= 0; shift -= 8) bomb.push_back(static_cast<char>(value >> shift));
  }
  const auto dimensions = peek_image_dimensions(bomb, "png");
  EXPECT_EQ(dimensions.width, 100000);
  EXPECT_EQ(dimensions.height, 80000);
}

// A little-endian TIFF directory of the given (tag, type, value) entries, count 1 each.
std::string tiff_with_entries(
    const std::vector<std::tuple<uint16_t, uint16_t, uint32_t>>& entries) {
  std::string bytes("II*\0\x08\0\0\0", 8);
  const auto put = [&](uint32_t value, int size) {
    for (int i = 0; i < size; ++i) bytes.push_back(static_cast<char>(value >> (8 * i)));
  };
  put(static_cast<uint32_t>(entries.size()), 2);
  for (const auto& [tag, type, value] : entries) {
    put(tag, 2);
    put(type, 2);
    put(1, 4);
    put(value, 4);
  }
  return bytes;
}

// libtiff reads the first of two ImageWidth tags; a check that read the last was bypassed by a
// file claiming 16 pixels to the check and 16384 to the decoder.
TEST(ImageHeader, TiffThatGivesItsSizeTwiceOrOddlyIsRefused) {
  EXPECT_EQ(peek_image_dimensions(tiff_with_entries({{256, 4, 16}, {257, 3, 16}}), "tiff").width,
            16);
  for (const auto& [entries, problem] :
       std::vector<std::pair<std::vector<std::tuple<uint16_t, uint16_t, uint32_t>>, std::string>>{
           {{{256, 4, 16384}, {257, 4, 16}, {256, 4, 16}}, "ImageWidth twice"},
           {{{256, 4, 16}, {257, 4, 16}, {257, 4, 16384}}, "ImageLength twice"},
           {{{256, 5, 16}, {257, 4, 16}}, "not one SHORT or LONG"},
           {{{256, 4, 0}, {257, 4, 16}}, "ImageWidth of 0"}}) {
    try {
      peek_image_dimensions(tiff_with_entries(entries), "tiff");
      ADD_FAILURE() << "accepted a TIFF that " << problem;
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find(problem), std::string::npos) << error.what();
    }
  }
}

TEST(ImageHeader, TruncatedOrDamagedHeadersAreRejectedNamingTheImage) {
  cv::Mat image(40, 50, CV_8UC3, cv::Scalar(10, 20, 30));
  for (const std::string format : {"png", "jpeg", "webp", "tiff"}) {
    const std::string bytes = encode_image(image, format);
    try {
      peek_image_dimensions(bytes.substr(0, 12), format);
      ADD_FAILURE() << format << ": a truncated header was accepted";
    } catch (const std::invalid_argument& error) {
      EXPECT_EQ(std::string(error.what()).rfind("image: " + format, 0), 0u) << error.what();
    }
  }
  EXPECT_THROW(peek_image_dimensions("GIF89a", "gif"), std::invalid_argument);
}

}  // namespace
}  // namespace ern
