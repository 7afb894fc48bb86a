#include "model/tiled_inference.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "model/tensor_image.h"

namespace ern {
namespace {

// Tile origins along one axis: evenly stepped, the last flush with the far edge.
std::vector<int64_t> tile_origins(int64_t length, int64_t tile, int64_t overlap) {
  if (length <= tile) return {0};
  std::vector<int64_t> origins;
  const int64_t stride = tile - overlap;
  for (int64_t origin = 0; origin + tile < length; origin += stride) origins.push_back(origin);
  origins.push_back(length - tile);
  return origins;
}

// 1 inside, ramping linearly to near 0 across the overlap on sides that touch another tile.
torch::Tensor blend_ramp(int64_t length, int64_t overlap, bool ramp_start, bool ramp_end) {
  std::vector<float> ramp(length, 1.0f);
  for (int64_t i = 0; i < overlap && i < length; ++i) {
    const float weight = static_cast<float>(i + 1) / static_cast<float>(overlap + 1);
    if (ramp_start) ramp[i] = std::min(ramp[i], weight);
    if (ramp_end) ramp[length - 1 - i] = std::min(ramp[length - 1 - i], weight);
  }
  return torch::tensor(ramp);
}

}  // namespace

void TileOptions::validate() const {
  if (tile < 16) throw std::invalid_argument("tile: must be >= 16");
  if (overlap < 0 || overlap >= tile / 2) {
    throw std::invalid_argument("overlap: must be in 0.." + std::to_string(tile / 2 - 1));
  }
  if (batch < 1) throw std::invalid_argument("tile batch: must be >= 1");
}

torch::Tensor denoise_tensor(const BatchForward& forward, const torch::Tensor& image,
                             const TileOptions& options) {
  options.validate();
  const int64_t height = image.size(2), width = image.size(3);
  if (height <= options.tile && width <= options.tile) return forward(image);

  const auto rows = tile_origins(height, options.tile, options.overlap);
  const auto cols = tile_origins(width, options.tile, options.overlap);
  const int64_t tile_h = std::min<int64_t>(options.tile, height);
  const int64_t tile_w = std::min<int64_t>(options.tile, width);
  auto output = torch::zeros_like(image);
  auto weights = torch::zeros({1, 1, height, width}, image.options());

  struct Tile {
    int64_t top, left;
    torch::Tensor weight;
  };
  std::vector<Tile> tiles;
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < cols.size(); ++c) {
      auto weight_y = blend_ramp(tile_h, options.overlap, r > 0, r + 1 < rows.size());
      auto weight_x = blend_ramp(tile_w, options.overlap, c > 0, c + 1 < cols.size());
      tiles.push_back(
          {rows[r], cols[c],
           torch::outer(weight_y, weight_x).view({1, 1, tile_h, tile_w}).to(image.device())});
    }
  }
  for (size_t first = 0; first < tiles.size(); first += options.batch) {
    const size_t last = std::min(tiles.size(), first + options.batch);
    std::vector<torch::Tensor> inputs;
    for (size_t i = first; i < last; ++i) {
      inputs.push_back(image.slice(2, tiles[i].top, tiles[i].top + tile_h)
                           .slice(3, tiles[i].left, tiles[i].left + tile_w));
    }
    auto results = forward(torch::cat(inputs, 0));
    for (size_t i = first; i < last; ++i) {
      const auto& tile = tiles[i];
      auto region =
          output.slice(2, tile.top, tile.top + tile_h).slice(3, tile.left, tile.left + tile_w);
      region.add_(results.slice(0, i - first, i - first + 1) * tile.weight);
      weights.slice(2, tile.top, tile.top + tile_h)
          .slice(3, tile.left, tile.left + tile_w)
          .add_(tile.weight);
    }
  }
  return output / weights;
}

cv::Mat denoise_image(const BatchForward& forward, int network_channels, const cv::Mat& image,
                      const TileOptions& options) {
  const int channels = image.channels();
  if (channels != 1 && channels != 3 && channels != 4) {
    throw std::invalid_argument("image: 1, 3 or 4 channels expected, got " +
                                std::to_string(channels));
  }
  cv::Mat color, alpha;
  if (channels == 4) {
    std::vector<cv::Mat> planes;
    cv::split(image, planes);
    alpha = planes[3];
    planes.pop_back();
    cv::merge(planes, color);
  } else {
    color = image;
  }
  cv::Mat input = color;
  if (network_channels == 3 && color.channels() == 1)
    cv::cvtColor(color, input, cv::COLOR_GRAY2RGB);
  if (network_channels == 1 && color.channels() == 3)
    cv::cvtColor(color, input, cv::COLOR_RGB2GRAY);

  cv::Mat result =
      tensor_to_image(denoise_tensor(forward, image_to_tensor(input), options), image.depth());
  if (result.channels() != color.channels()) {
    cv::cvtColor(result, result, result.channels() == 3 ? cv::COLOR_RGB2GRAY : cv::COLOR_GRAY2RGB);
  }
  if (!alpha.empty()) {
    std::vector<cv::Mat> planes;
    cv::split(result, planes);
    planes.push_back(alpha);
    cv::merge(planes, result);
  }
  return result;
}

BatchForward direct_forward(Nafnet& network) {
  network->eval();
  return [&network](const torch::Tensor& batch) {
    torch::NoGradGuard no_grad;
    const auto device = network->parameters().front().device();
    return network->forward(batch.to(device)).to(batch.device());
  };
}

torch::Tensor denoise_tensor(Nafnet& network, const torch::Tensor& image,
                             const TileOptions& options) {
  torch::NoGradGuard no_grad;
  return denoise_tensor(direct_forward(network), image, options);
}

cv::Mat denoise_image(Nafnet& network, const cv::Mat& image, const TileOptions& options) {
  torch::NoGradGuard no_grad;
  return denoise_image(direct_forward(network), network->architecture().image_channels, image,
                       options);
}

}  // namespace ern
