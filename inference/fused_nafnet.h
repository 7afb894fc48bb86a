#pragma once
// The serving engine's forward pass: a folded NAFNet (or a derived ERN-Net) run as oneDNN
// primitives with their neighbours fused in (residuals as sum post-ops, the feed-forward
// SimpleGate as a product post-op, the other SimpleGate with the attention pool, PixelShuffle with
// the skip connection), on channels-last buffers with no layout conversion between steps. The
// LibTorch forward pass of the same network stays the reference: outputs agree within 1e-4.

#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "inference/fused_block.h"
#include "inference/narrow_convolution.h"
#include "inference/precision.h"
#include "model/nafnet.h"

namespace ern::inference {

class NetworkPlan;

class FusedNafnet {
 public:
  // `network` is prepared for inference (folded) here if it is not yet; its parameters are
  // copied. `precision` bf16 runs in fp32 on a CPU without native bf16 (see precision()); int8
  // needs the ranges of every block (else std::invalid_argument naming the block).
  explicit FusedNafnet(Nafnet& network, Precision precision = Precision::kFp32,
                       const Int8Calibration& calibration = {},
                       Tiling tiling = Tiling::kWhereItPays);
  ~FusedNafnet();

  // What it computes in on this CPU.
  Precision precision() const { return precision_; }

  // x: [N, C, H, W] float in [0, 1], any H and W; the result has x's shape, channels-last.
  // Thread-safe (calls run one at a time).
  torch::Tensor forward(const torch::Tensor& x);

  // An fp32 engine's forward pass of x that also widens `calibration` to the ranges the int8
  // mode's inputs take on it (post-training calibration).
  torch::Tensor observe(const torch::Tensor& x, Int8Calibration& calibration);

 private:
  struct Stage {
    std::vector<BlockParameters> blocks;  // skip blocks are left out
    ConvParameters resample;              // encoder: the 2x2 stride-2 down; decoder: the 1x1 up
  };
  friend class NetworkPlan;

  NetworkPlan& plan_for(const dnnl::memory::dims& input_dims);  // with mutex_ held
  torch::Tensor run(const torch::Tensor& x, Int8Calibration* observed);

  NafnetArchitecture architecture_;
  Precision precision_;
  Tiling tiling_;
  ConvParameters intro_, ending_;
  std::optional<NarrowConvolution> narrow_ending_;  // where it suits the ending convolution
  std::vector<Stage> encoders_, decoders_;
  std::vector<BlockParameters> middle_;

  std::mutex mutex_;
  // Plans of the latest input shapes, most recently used first (a plan holds primitives only; the
  // activations are allocated per call so memory goes back after a burst).
  std::list<std::unique_ptr<NetworkPlan>> plans_;
};

}  // namespace ern::inference
