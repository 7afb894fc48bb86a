#pragma once
// Denoise requests' images in and out: encoded bytes (PNG, JPEG, WebP, TIFF) or raw pixels,
// checked against the limits before anything large is allocated. Errors are INVALID_ARGUMENT
// naming the field (`image`, `raw.width`, `raw.pixels`, `output_format`, ...).

#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

#include "common/png_encoder.h"
#include "ern/v1/denoise.pb.h"
#include "serving/pixel_budget.h"

namespace ern::serving {

struct RequestImage {
  cv::Mat pixels;             // RGB order; 1, 3 or 4 channels; 8 or 16 bits
  std::string format;         // png, jpeg, webp, tiff or raw
  PixelBudget::Lease budget;  // the image's share of the pixels in flight, held until it is gone
};

// Raw pixels are not copied: the result views the request's bytes and must not outlive it.
// The image's pixels are taken from `budget` after its header is checked and before it is decoded.
RequestImage decode_request_image(const v1::DenoiseRequest& request, int64_t max_pixels,
                                  PixelBudget& budget);

// The request's output_format (empty: the input's), checked against what the image holds.
std::string choose_output_format(const std::string& requested, const RequestImage& input);

// Sets response.image or response.raw, and output_format.
void encode_response_image(const cv::Mat& image, const std::string& format, PngCompression png,
                           v1::DenoiseResponse& response);

}  // namespace ern::serving
