#pragma once
// Inference on images of any size: images larger than a tile are split into overlapping tiles
// whose outputs are blended with weights that fall off linearly across the overlap, so seams do
// not show. Colour, gray and alpha are handled here so callers can pass images as they come.

#include <torch/torch.h>

#include <functional>

#include <opencv2/core.hpp>

#include "model/nafnet.h"

namespace ern {

struct TileOptions {
  int tile = 512;    // tile side in pixels; images that fit are run whole
  int overlap = 64;  // pixels shared by neighbouring tiles
  int batch = 4;     // tiles per forward pass

  // Throws std::invalid_argument naming the field.
  void validate() const;
};

// Runs the network on a batch [N, C, h, w] of whole images or tiles (all the same size).
using BatchForward = std::function<torch::Tensor(const torch::Tensor& batch)>;

// image: [1, C, H, W] float in [0, 1] on the network's device; returns the same shape.
torch::Tensor denoise_tensor(const BatchForward& forward, const torch::Tensor& image,
                             const TileOptions& options = {});

// 8- or 16-bit image, 1, 3 or 4 channels (RGB order); returns the same type. Gray runs through a
// 3-channel network as RGB and comes back gray; alpha is passed through untouched.
// `network_channels` is the network's image_channels.
cv::Mat denoise_image(const BatchForward& forward, int network_channels, const cv::Mat& image,
                      const TileOptions& options = {});

// The network's own forward pass as a BatchForward: eval mode, no gradients, the batch moved to
// the network's device and back. `network` must outlive it.
BatchForward direct_forward(Nafnet& network);

// The same with the network run directly (no gradients, eval mode).
torch::Tensor denoise_tensor(Nafnet& network, const torch::Tensor& image,
                             const TileOptions& options = {});
cv::Mat denoise_image(Nafnet& network, const cv::Mat& image, const TileOptions& options = {});

}  // namespace ern
