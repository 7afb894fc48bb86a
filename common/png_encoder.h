#pragma once
// PNG out: the chunks written here, the deflate stream by ISA-L (stored blocks by libdeflate).
// libpng (and OpenCV's encoder above it) compresses through zlib, whose fastest setting is the
// slowest of the three: measured on 512x512 crops of the val photographs on a 2-core Xeon, zlib
// level 1 with RLE and the SUB filter took 8-9 ms for a denoised image at 0.33 of the raw size,
// libdeflate level 1 with the UP filter 3.5-5 ms at 0.21-0.29, ISA-L level 1 with the UP filter
// 1.75 ms at 0.23 (the UP filter compressed about as well as Paeth and better than SUB, and costs
// one vector subtraction per row).

#include <string>

#include <opencv2/core.hpp>

namespace ern {

enum class PngCompression {
  kFast,  // UP filter, ISA-L level 1: a quarter to a third of the raw size
  kNone,  // stored deflate blocks, no filter: the raw size, several times cheaper to write
};

// `image`: gray, RGB or RGBA (in that order), 8 or 16 bits. Throws std::invalid_argument for
// anything else.
std::string encode_png(const cv::Mat& image, PngCompression compression);

// "fast" or "none"; throws std::invalid_argument naming `field` otherwise.
PngCompression parse_png_compression(const std::string& value, const std::string& field);

}  // namespace ern
