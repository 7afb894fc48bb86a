#pragma once
// Image files in and out through OpenCV. In memory, images are RGB (or gray, or RGBA) cv::Mats of
// 8 or 16 bits per channel; OpenCV's BGR order is converted at this boundary and nowhere else.

#include <filesystem>
#include <string>

#include <opencv2/core.hpp>

#include "common/png_encoder.h"

namespace ern {

// Reads PNG, JPEG, WebP, TIFF, ... keeping bit depth and alpha. Throws std::runtime_error naming
// the file when it is missing or cannot be decoded.
cv::Mat read_image(const std::filesystem::path& path);

// Like read_image, but always 3-channel 8-bit RGB (gray is expanded, alpha dropped).
cv::Mat read_rgb8(const std::filesystem::path& path);

// Format from the extension; written atomically. Throws std::runtime_error on failure.
void write_image(const std::filesystem::path& path, const cv::Mat& image);

// The same for images held in memory (requests and responses). `format` is png, jpeg, webp or
// tiff; image_format() recognizes them from their first bytes ("" when it does not).
// decode_image throws std::invalid_argument for bytes that are not an image.
std::string image_format(const std::string& bytes);
cv::Mat decode_image(const std::string& bytes);
std::string encode_image(const cv::Mat& image, const std::string& format,
                         PngCompression png = PngCompression::kFast);

}  // namespace ern
