// The shipped default model against the classical peer a user would otherwise reach for, in one
// run on the same images: OpenCV's non-local means with its strength tuned on val
// (configs/nlm.yaml). Prints PSNR/SSIM per sigma on the holdout photographs with the margins the
// default model must keep, and the time of one forward pass at 256x256 beside NLM's on the same
// image with the same threads.

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <vector>

#include <opencv2/core.hpp>

#include "bench/timing.h"
#include "client/arguments.h"
#include "common/heap_tuning.h"
#include "common/image_io.h"
#include "common/program_info.h"
#include "model/dataset.h"
#include "model/evaluation.h"
#include "model/model_dir.h"
#include "model/nlm_reference.h"
#include "model/noise.h"
#include "model/tensor_image.h"

namespace {

double median_ms(int repeats, const std::function<void()>& work) {
  return ern::bench::time_repeats(repeats, work).median_ms;
}

const char* verdict(bool met) { return met ? "meets" : "MISSES"; }

// The margins the default model keeps over NLM (issue "a model worth serving").
struct Margin {
  double psnr_db;
  double ssim;
};
Margin required_margin(double sigma) { return sigma < 20 ? Margin{0.0, 0.0} : Margin{3.5, 0.08}; }

}  // namespace

namespace {
constexpr char kUsage[] =
    R"(usage: ern-bench-quality [--model models/ern-net] [--images data/images/holdout]
                         [--threads 2] [--repeats 10])";
}  // namespace

int main(int argc, char** argv) {
  if (ern::answered_help_or_version(argc, argv, "ern-bench-quality", kUsage)) return 0;
  ern::keep_freed_memory_in_heap();
  try {
    ern::cli::Arguments args(std::vector<std::string>(argv + 1, argv + argc),
                             {"model", "images", "threads", "repeats"});
    const std::filesystem::path model_dir =
        args.value_or("model", std::filesystem::exists("models/ern-net") ? "models/ern-net"
                                                                         : "models/nafnet-base");
    const auto images = ern::list_images(args.value_or("images", "data/images/holdout"));
    const int threads = static_cast<int>(args.integer_or("threads", 2, 1, 256));
    const int repeats = static_cast<int>(args.integer_or("repeats", 10, 1, 10000));
    torch::set_num_threads(threads);
    cv::setNumThreads(threads);

    auto model = ern::load_model_dir(model_dir);
    ern::EvaluationOptions options;
    options.nlm = ern::load_nlm_strength_if_present();
    const auto results = ern::evaluate_denoiser(model.network, images, options);

    std::printf("%s (%s) vs OpenCV NLM (strength tuned on val), %zu holdout photographs\n",
                model_dir.c_str(), model.architecture.describe().c_str(), images.size());
    std::printf("%-6s %-18s %-18s %-18s %s\n", "sigma", "model PSNR/SSIM", "NLM PSNR/SSIM",
                "margin dB / SSIM", "required");
    for (const auto& r : results) {
      const double psnr_margin = r.network.psnr - r.nlm.psnr;
      const double ssim_margin = r.network.ssim - r.nlm.ssim;
      const auto required = required_margin(r.sigma);
      const bool met = psnr_margin >= required.psnr_db && ssim_margin >= required.ssim;
      std::printf("%-6g %6.2f / %.4f    %6.2f / %.4f    %+6.2f / %+.4f    >= %+.1f / %+.2f %s\n",
                  r.sigma, r.network.psnr, r.network.ssim, r.nlm.psnr, r.nlm.ssim, psnr_margin,
                  ssim_margin, required.psnr_db, required.ssim, verdict(met));
    }

    // Time on the same 256x256 noisy crop, same threads.
    const cv::Mat photo = ern::read_rgb8(images.front());
    const int side = std::min({256, photo.cols, photo.rows});
    const cv::Mat crop =
        photo(cv::Rect((photo.cols - side) / 2, (photo.rows - side) / 2, side, side)).clone();
    const cv::Mat noisy = ern::add_gaussian_noise(crop, 25.0, 0);
    auto serving = ern::load_model_dir(model_dir);
    serving.network->prepare_for_inference();
    const auto input = ern::image_to_tensor(noisy);
    const double model_ms = median_ms(repeats, [&] {
      c10::InferenceMode inference;
      serving.network->forward(input);
    });
    const double factor = options.nlm.factor(25.0);
    const double nlm_ms =
        median_ms(std::max(1, repeats / 3), [&] { ern::nlm_denoise(noisy, 25.0, factor); });
    std::printf(
        "%dx%d, %d threads: model forward %.1f ms, NLM %.1f ms: %.2fx of NLM's time "
        "(required <= 0.50) %s\n",
        side, side, threads, model_ms, nlm_ms, model_ms / nlm_ms,
        verdict(model_ms <= 0.5 * nlm_ms));
  } catch (const std::exception& error) {
    std::fprintf(stderr, "ern-bench-quality: %s\n", error.what());
    return 1;
  }
  return 0;
}
