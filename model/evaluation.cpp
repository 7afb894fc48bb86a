#include "model/evaluation.h"

#include "common/image_io.h"
#include "model/image_metrics.h"
#include "model/noise.h"

namespace ern {
namespace {

QualityScores score(const cv::Mat& clean, const cv::Mat& test) {
  return {psnr(clean, test), ssim(clean, test)};
}

void accumulate(QualityScores& total, const QualityScores& add) {
  total.psnr += add.psnr;
  total.ssim += add.ssim;
}

void divide(QualityScores& total, int count) {
  total.psnr /= count;
  total.ssim /= count;
}

}  // namespace

uint64_t evaluation_noise_seed(uint64_t seed, size_t index, double sigma) {
  return seed * 1000003ULL + index * 1009ULL + static_cast<uint64_t>(sigma * 100.0);
}

std::vector<SigmaEvaluation> evaluate_denoiser(Nafnet& network,
                                               const std::vector<std::filesystem::path>& images,
                                               const EvaluationOptions& options) {
  return evaluate_denoiser(direct_forward(network), network->architecture().image_channels, images,
                           options);
}

std::vector<SigmaEvaluation> evaluate_denoiser(const BatchForward& forward, int network_channels,
                                               const std::vector<std::filesystem::path>& images,
                                               const EvaluationOptions& options) {
  std::vector<SigmaEvaluation> results;
  for (double sigma : options.sigmas) {
    SigmaEvaluation result;
    result.sigma = sigma;
    results.push_back(result);
  }
  for (size_t index = 0; index < images.size(); ++index) {
    const cv::Mat clean = read_rgb8(images[index]);
    for (auto& result : results) {
      const cv::Mat noisy = add_gaussian_noise(
          clean, result.sigma, evaluation_noise_seed(options.seed, index, result.sigma));
      accumulate(result.noisy, score(clean, noisy));
      accumulate(result.network,
                 score(clean, denoise_image(forward, network_channels, noisy, options.tiles)));
      if (options.classical_reference) {
        accumulate(result.nlm, score(clean, nlm_denoise(noisy, result.sigma,
                                                        options.nlm.factor(result.sigma))));
      }
      ++result.images;
    }
  }
  for (auto& result : results) {
    if (result.images == 0) continue;
    divide(result.noisy, result.images);
    divide(result.network, result.images);
    divide(result.nlm, result.images);
  }
  return results;
}

}  // namespace ern
