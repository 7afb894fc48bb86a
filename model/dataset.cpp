#include "model/dataset.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <stdexcept>

#include "common/image_io.h"
#include "common/sha256.h"
#include "model/noise.h"

namespace ern {
namespace {

namespace fs = std::filesystem;

bool is_image_file(const fs::path& path) {
  static const std::set<std::string> extensions = {".png", ".jpg",  ".jpeg", ".webp",
                                                   ".tif", ".tiff", ".bmp"};
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(), ::tolower);
  return extensions.count(extension) > 0;
}

// [C, H, W] uint8 RGB.
torch::Tensor load_chw(const fs::path& path, int min_side) {
  cv::Mat rgb = read_rgb8(path);
  if (rgb.rows < min_side || rgb.cols < min_side) {
    throw std::runtime_error(path.string() + ": " + std::to_string(rgb.cols) + "x" +
                             std::to_string(rgb.rows) + " is smaller than the " +
                             std::to_string(min_side) + "-pixel patch");
  }
  return torch::from_blob(rgb.data, {rgb.rows, rgb.cols, 3}, torch::kUInt8)
      .permute({2, 0, 1})
      .clone();
}

torch::Tensor to_float(const std::vector<torch::Tensor>& patches) {
  return torch::stack(patches).to(torch::kFloat32).div(255.0);
}

}  // namespace

std::vector<fs::path> list_images(const fs::path& directory) {
  if (!fs::is_directory(directory)) {
    throw std::runtime_error(directory.string() + ": no such directory");
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(directory)) {
    if (entry.is_regular_file() && is_image_file(entry.path())) files.push_back(entry.path());
  }
  if (files.empty()) throw std::runtime_error(directory.string() + ": holds no images");
  std::sort(files.begin(), files.end());
  return files;
}

std::string TrainingData::save_state() const {
  std::ostringstream out;
  out << engine_;
  return out.str();
}

void TrainingData::load_state(const std::string& state) {
  std::istringstream in(state);
  in >> engine_;
  if (in.fail()) throw std::runtime_error("training data: corrupt random-engine state");
}

std::vector<torch::Tensor> TrainingData::random_patch(
    const std::vector<std::vector<torch::Tensor>>& images, int patch) {
  const auto& views = images[std::uniform_int_distribution<size_t>(0, images.size() - 1)(engine_)];
  const int64_t height = views[0].size(1), width = views[0].size(2);
  const int64_t top = std::uniform_int_distribution<int64_t>(0, height - patch)(engine_);
  const int64_t left = std::uniform_int_distribution<int64_t>(0, width - patch)(engine_);
  const int transform = std::uniform_int_distribution<int>(0, 7)(engine_);
  std::vector<torch::Tensor> crops;
  for (const auto& view : views) {
    auto crop = view.slice(1, top, top + patch).slice(2, left, left + patch);
    if (transform & 4) crop = crop.flip({2});
    crop = torch::rot90(crop, transform & 3, {1, 2});
    crops.push_back(crop);
  }
  return crops;
}

SyntheticNoiseData::SyntheticNoiseData(const fs::path& directory, std::vector<double> sigmas,
                                       uint64_t seed, int min_side)
    : SyntheticNoiseData(list_images(directory), std::move(sigmas), seed, min_side) {}

SyntheticNoiseData::SyntheticNoiseData(const std::vector<fs::path>& files,
                                       std::vector<double> sigmas, uint64_t seed, int min_side)
    : TrainingData(seed), sigmas_(std::move(sigmas)) {
  if (sigmas_.empty()) throw std::invalid_argument("sigma: at least one noise level is needed");
  for (double sigma : sigmas_) {
    if (sigma < 0 || sigma > 255) {
      throw std::invalid_argument("sigma: must be in 0..255, got " + std::to_string(sigma));
    }
  }
  if (files.empty()) throw std::invalid_argument("images: the data set is empty");
  for (const auto& path : files) images_.push_back({load_chw(path, min_side)});
}

NoisyBatch SyntheticNoiseData::next_batch(int batch, int patch) {
  std::vector<torch::Tensor> clean;
  std::vector<double> sigma_per_sample;
  for (int i = 0; i < batch; ++i) {
    clean.push_back(random_patch(images_, patch)[0]);
    sigma_per_sample.push_back(
        sigmas_[std::uniform_int_distribution<size_t>(0, sigmas_.size() - 1)(engine_)]);
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(engine_());
  NoisyBatch out;
  out.clean = to_float(clean);
  std::vector<torch::Tensor> noisy;
  for (int i = 0; i < batch; ++i) {
    noisy.push_back(add_gaussian_noise(out.clean[i], sigma_per_sample[i], generator));
  }
  out.noisy = torch::stack(noisy);
  return out;
}

PairedNoiseData::PairedNoiseData(const fs::path& directory, uint64_t seed, int min_side)
    : TrainingData(seed) {
  for (const auto& noisy_path : list_images(directory / "noisy")) {
    const auto clean_path = directory / "clean" / noisy_path.filename();
    if (!fs::exists(clean_path)) {
      throw std::runtime_error(clean_path.string() + ": missing clean partner of " +
                               noisy_path.string());
    }
    auto noisy = load_chw(noisy_path, min_side);
    auto clean = load_chw(clean_path, min_side);
    if (noisy.sizes() != clean.sizes()) {
      throw std::runtime_error(clean_path.string() + ": size differs from " + noisy_path.string());
    }
    pairs_.push_back({noisy, clean});
  }
}

NoisyBatch PairedNoiseData::next_batch(int batch, int patch) {
  std::vector<torch::Tensor> noisy, clean;
  for (int i = 0; i < batch; ++i) {
    auto crops = random_patch(pairs_, patch);
    noisy.push_back(crops[0]);
    clean.push_back(crops[1]);
  }
  return {to_float(noisy), to_float(clean)};
}

std::unique_ptr<TrainingData> open_training_data(const fs::path& directory,
                                                 const std::vector<double>& sigmas, uint64_t seed,
                                                 int patch) {
  if (fs::is_directory(directory / "noisy") && fs::is_directory(directory / "clean")) {
    return std::make_unique<PairedNoiseData>(directory, seed, patch);
  }
  return std::make_unique<SyntheticNoiseData>(directory, sigmas, seed, patch);
}

std::string image_folder_digest(const std::filesystem::path& data) {
  std::string listing;
  for (const char* split : {"train", "val"}) {
    if (!std::filesystem::is_directory(data / split)) continue;
    for (const auto& image : list_images(data / split)) {
      listing += std::string(split) + "/" + image.filename().string() + " " +
                 sha256_file_hex(image) + "\n";
    }
  }
  return sha256_hex(listing);
}

}  // namespace ern
