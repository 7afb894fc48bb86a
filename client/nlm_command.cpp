// ernctl tune-nlm: chooses OpenCV non-local means' filter strength per noise level on a folder of
// clean photographs (the val split), so every comparison with NLM is against its best setting.

#include <cstdio>
#include <filesystem>
#include <limits>

#include <opencv2/core.hpp>

#include "client/arguments.h"
#include "client/commands.h"
#include "common/image_io.h"
#include "model/dataset.h"
#include "model/evaluation.h"
#include "model/image_metrics.h"
#include "model/nlm_reference.h"
#include "model/noise.h"

namespace ern::cli {
namespace {

// Mean PSNR of NLM at `factor` over the noisy/clean pairs.
double mean_psnr(const std::vector<cv::Mat>& clean, const std::vector<cv::Mat>& noisy, double sigma,
                 double factor) {
  double total = 0.0;
  for (size_t i = 0; i < clean.size(); ++i) {
    total += psnr(clean[i], nlm_denoise(noisy[i], sigma, factor));
  }
  return total / static_cast<double>(clean.size());
}

}  // namespace

int tune_nlm(const Args& raw) {
  Arguments args(raw, {"images", "sigma", "seed", "o"}, {});
  args.expect_positionals(
      0,
      "ernctl tune-nlm --images data/images/val [--sigma 15,25,50] [--seed 0] -o configs/nlm.yaml");
  const std::filesystem::path folder = args.required("images");
  const auto sigmas = args.numbers_or("sigma", {15, 25, 50});
  for (double sigma : sigmas) {
    if (!(sigma > 0 && sigma <= 255)) throw UsageError("--sigma: each value must be in (0, 255]");
  }
  const auto seed =
      static_cast<uint64_t>(args.integer_or("seed", 0, 0, std::numeric_limits<long long>::max()));
  const std::filesystem::path output = args.required("o");
  const auto images = list_images(folder);
  std::vector<cv::Mat> clean;
  for (const auto& image : images) clean.push_back(read_rgb8(image));

  NlmStrength strength;
  strength.tuned_on = folder.filename().string() + " (" + std::to_string(images.size()) +
                      " images, noise seed " + std::to_string(seed) + ", best mean PSNR)";
  std::printf("%-6s %-8s %s\n", "sigma", "factor", "NLM PSNR");
  for (double sigma : sigmas) {
    std::vector<cv::Mat> noisy;
    for (size_t i = 0; i < clean.size(); ++i) {
      noisy.push_back(add_gaussian_noise(clean[i], sigma, evaluation_noise_seed(seed, i, sigma)));
    }
    // A coarse pass over 0.3..1.2 sigma, then steps of 0.05 around the best.
    double best_factor = 0.0, best_psnr = -1.0;
    auto consider = [&](double factor) {
      const double value = mean_psnr(clean, noisy, sigma, factor);
      std::printf("%-6g %-8.2f %.3f dB\n", sigma, factor, value);
      std::fflush(stdout);
      if (value > best_psnr) best_psnr = value, best_factor = factor;
    };
    for (int tenth = 3; tenth <= 12; ++tenth) consider(tenth / 10.0);
    const double coarse = best_factor;
    for (double factor : {coarse - 0.05, coarse + 0.05}) {
      if (factor > 0) consider(factor);
    }
    strength.factor_by_sigma[sigma] = best_factor;
    std::printf("sigma %g: factor %.2f (h = %.2f), %.3f dB\n", sigma, best_factor,
                best_factor * sigma, best_psnr);
  }
  save_nlm_strength(output, strength);
  std::printf("saved %s\n", output.c_str());
  return 0;
}

}  // namespace ern::cli
