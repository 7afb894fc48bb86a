#pragma once
// PNG out through libpng with the filter and deflate settings chosen here, which OpenCV's encoder
// does not let a caller pick together: measured on 512x512 photographs (denoised and not) on a
// 2-core Xeon, its speed-tuned default (SUB filter, deflate level 1, RLE) takes 8-9 ms and halves
// the raw size; every other filter and strategy at level 1 landed within 15% of it; stored blocks
// without a filter take 0.6 ms (and 0.6 ms to decode instead of 5) at the raw size.

#include <string>

#include <opencv2/core.hpp>

namespace ern {

enum class PngCompression {
  kFast,  // SUB filter, deflate level 1, RLE: about half the raw size
  kNone,  // stored deflate blocks, no filter: the raw size, about 14x cheaper to write
};

// `image`: gray, RGB or RGBA (in that order), 8 or 16 bits. Throws std::invalid_argument for
// anything else.
std::string encode_png(const cv::Mat& image, PngCompression compression);

// "fast" or "none"; throws std::invalid_argument naming `field` otherwise.
PngCompression parse_png_compression(const std::string& value, const std::string& field);

}  // namespace ern
