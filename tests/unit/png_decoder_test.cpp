// PNG in: the libdeflate path decodes what libpng (through OpenCV) and ERN's encoder write exactly
// as OpenCV does, at every layout it takes, and leaves everything else to OpenCV.

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "common/image_io.h"
#include "common/png_decoder.h"
#include "common/png_format.h"
#include "tests/unit/libpng_reference.h"

namespace ern {
namespace {

// Noise over a gradient: rows that libpng's adaptive filtering encodes with every filter type.
cv::Mat textured_image(int type) {
  cv::Mat image(37, 53, type);
  const double top = CV_MAT_DEPTH(type) == CV_16U ? 65535.0 : 255.0;
  cv::randu(image, 0, top / 4);
  for (int y = 0; y < image.rows; ++y)
    image.row(y) += cv::Scalar::all(top * y / (1.5 * image.rows));
  return image;
}

std::string to_string(const std::vector<uchar>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::string opencv_png(const cv::Mat& image, int level) {
  std::vector<uchar> bytes;
  EXPECT_TRUE(cv::imencode(".png", image, bytes, {cv::IMWRITE_PNG_COMPRESSION, level}));
  return to_string(bytes);
}

// Rewrites the IHDR chunk (right after the signature) and its CRC.
std::string with_header(std::string png, const png::Header& header) {
  const auto bytes = png::header_bytes(header);
  std::copy(bytes.begin(), bytes.end(), png.begin() + 16);
  const uint32_t crc = png::chunk_crc(png.data() + 12, png::kHeaderBytes);
  for (int i = 0; i < 4; ++i) png[29 + i] = static_cast<char>(crc >> (24 - 8 * i));
  return png;
}

png::Header header_of(const std::string& png) {
  return png::parse_header(reinterpret_cast<const uint8_t*>(png.data()) + 16);
}

TEST(PngDecoder, DecodesWhatLibpngWritesAsOpenCvDoes) {
  for (const int type : {CV_8UC1, CV_8UC3, CV_8UC4, CV_16UC1, CV_16UC3, CV_16UC4}) {
    const cv::Mat image = textured_image(type);  // OpenCV's channel order: BGR(A)
    for (const int level : {0, 1, 6, 9}) {
      const std::string png = opencv_png(image, level);
      const auto decoded = decode_common_png(png);
      ASSERT_TRUE(decoded) << "type " << type << ", level " << level;
      ASSERT_EQ(decoded->type(), type);
      const cv::Mat expected = libpng_decoded(png);
      EXPECT_EQ(cv::norm(*decoded, expected, cv::NORM_INF), 0.0)
          << "type " << type << ", level " << level;
    }
  }
}

TEST(PngDecoder, ReadsErnsOwnPngsInEveryLayout) {
  for (const int type : {CV_8UC1, CV_8UC3, CV_8UC4, CV_16UC1, CV_16UC3, CV_16UC4}) {
    const cv::Mat image = textured_image(type);
    for (const auto compression : {PngCompression::kFast, PngCompression::kNone}) {
      const auto decoded = decode_common_png(encode_image(image, "png", compression));
      ASSERT_TRUE(decoded) << type;
      EXPECT_EQ(cv::norm(*decoded, image, cv::NORM_INF), 0.0) << type;
    }
  }
}

TEST(PngDecoder, LeavesOtherPngsToOpenCv) {
  const std::string png = opencv_png(textured_image(CV_8UC3), 1);
  auto header = header_of(png);
  header.interlace = 1;
  EXPECT_FALSE(decode_common_png(with_header(png, header))) << "interlaced";
  header = header_of(png);
  header.bit_depth = 4;
  EXPECT_FALSE(decode_common_png(with_header(png, header))) << "4 bits";
  header = header_of(png);
  header.color_type = png::ColorType::kGrayAlpha;
  EXPECT_FALSE(decode_common_png(with_header(png, header))) << "gray with alpha";
}

TEST(PngDecoder, DamageIsLeftToOpenCvWhichRefusesIt) {
  const std::string png = opencv_png(textured_image(CV_8UC3), 1);
  std::string bad_crc = png;
  bad_crc[bad_crc.size() - 20] ^= 0x55;  // inside the last IDAT's data
  EXPECT_FALSE(decode_common_png(bad_crc));
  EXPECT_THROW(decode_image(bad_crc), std::invalid_argument);
  const std::string truncated = png.substr(0, png.size() / 2);
  EXPECT_FALSE(decode_common_png(truncated));
  EXPECT_THROW(decode_image(truncated), std::invalid_argument);
  // More rows than the data hold: the stream ends short of the image.
  auto header = header_of(png);
  header.height += 1;
  EXPECT_FALSE(decode_common_png(with_header(png, header)));
}

TEST(PngDecoder, AHeaderPromisingMoreThanItsDataCanHoldIsNotAllocatedFor) {
  auto header = header_of(opencv_png(textured_image(CV_8UC3), 1));
  header.width = header.height = 30000;  // 2.7 GB of pixels from a few KB of deflate data
  const std::string png = with_header(opencv_png(textured_image(CV_8UC3), 1), header);
  EXPECT_FALSE(decode_common_png(png));
}

}  // namespace
}  // namespace ern
