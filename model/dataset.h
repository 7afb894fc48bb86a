#pragma once
// Training data: random patches with dihedral augmentation (flips and 90-degree rotations), either
// clean photographs with synthetic Gaussian noise or real noisy/clean pairs (the SIDD layout).
// Every random choice comes from one seeded engine whose state is saved in training checkpoints,
// so a resumed run sees exactly the batches an uninterrupted one would.

#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace ern {

struct NoisyBatch {
  torch::Tensor noisy;  // [B, C, P, P] float in [0, 1]
  torch::Tensor clean;
};

// Sorted image files (png, jpg, jpeg, webp, tif, tiff, bmp) directly under `directory`; throws
// std::runtime_error when the folder is missing or holds none.
std::vector<std::filesystem::path> list_images(const std::filesystem::path& directory);

class TrainingData {
 public:
  virtual ~TrainingData() = default;
  virtual NoisyBatch next_batch(int batch, int patch) = 0;
  virtual size_t size() const = 0;

  std::string save_state() const;
  void load_state(const std::string& state);

 protected:
  explicit TrainingData(uint64_t seed) : engine_(seed) {}
  // Picks an image, a patch position and one of the 8 dihedral transforms; returns the same
  // crop of every tensor in `views` (all [C, H, W] uint8 of one size).
  std::vector<torch::Tensor> random_patch(const std::vector<std::vector<torch::Tensor>>& images,
                                          int patch);
  std::mt19937_64 engine_;
};

class SyntheticNoiseData : public TrainingData {
 public:
  // Loads every image under `directory` (RGB, 8-bit). Throws when an image is smaller than
  // `min_side` or a sigma is out of 0..255.
  SyntheticNoiseData(const std::filesystem::path& directory, std::vector<double> sigmas,
                     uint64_t seed, int min_side);
  // The given image files only (e.g. one half of a folder, for a held-out split).
  SyntheticNoiseData(const std::vector<std::filesystem::path>& files, std::vector<double> sigmas,
                     uint64_t seed, int min_side);
  NoisyBatch next_batch(int batch, int patch) override;
  size_t size() const override { return images_.size(); }

 private:
  std::vector<std::vector<torch::Tensor>> images_;
  std::vector<double> sigmas_;
};

class PairedNoiseData : public TrainingData {
 public:
  // `directory` holds noisy/ and clean/ with the same file names.
  PairedNoiseData(const std::filesystem::path& directory, uint64_t seed, int min_side);
  NoisyBatch next_batch(int batch, int patch) override;
  size_t size() const override { return pairs_.size(); }

 private:
  std::vector<std::vector<torch::Tensor>> pairs_;  // {noisy, clean}
};

// Digest of the train/ and val/ images under `data` (each file's split, name and SHA-256): which
// photographs a run read, for lineage.
std::string image_folder_digest(const std::filesystem::path& data);

// Paired data when `directory` has noisy/ and clean/ subfolders, synthetic noise otherwise.
std::unique_ptr<TrainingData> open_training_data(const std::filesystem::path& directory,
                                                 const std::vector<double>& sigmas, uint64_t seed,
                                                 int patch);

}  // namespace ern
