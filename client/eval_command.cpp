// ernctl eval --local: mean PSNR/SSIM of a model per noise level, beside the noisy input and
// OpenCV's non-local means on the same noisy images.

#include <cstdio>
#include <filesystem>
#include <iostream>

#include <nlohmann/json.hpp>

#include "client/arguments.h"
#include "client/commands.h"
#include "inference/serving_engine.h"
#include "model/dataset.h"
#include "model/evaluation.h"
#include "model/model_dir.h"
#include "model/trainer.h"

namespace ern::cli {

int evaluate(const Args& raw) {
  Arguments args(raw, {"local", "images", "sigma", "seed", "device", "nlm-strength"},
                 {"json", "no-nlm"});
  args.expect_positionals(0,
                          "ernctl eval --local DIR --images DIR [--sigma 15,25,50] [--seed 0] "
                          "[--device cpu|cuda] [--nlm-strength configs/nlm.yaml] [--no-nlm] "
                          "[--json]");
  EvaluationOptions options;
  options.sigmas = args.numbers_or("sigma", options.sigmas);
  for (double sigma : options.sigmas) {
    if (sigma < 0 || sigma > 255) throw UsageError("--sigma: each value must be in 0..255");
  }
  options.seed =
      static_cast<uint64_t>(args.integer_or("seed", 0, 0, std::numeric_limits<long long>::max()));
  options.classical_reference = !args.has("no-nlm");
  options.nlm = args.has("nlm-strength") ? load_nlm_strength(args.required("nlm-strength"))
                                         : load_nlm_strength_if_present();
  const auto images = list_images(args.required("images"));
  // On the CPU the model is scored as Denoise serves it (the fused engine, in its serving
  // precision), several times faster than LibTorch's forward pass; on a GPU through LibTorch.
  const auto device = parse_device(args.value_or("device", "cpu"));
  std::vector<SigmaEvaluation> results;
  if (device.is_cpu()) {
    results = inference::evaluate_model_dir(args.required("local"), images, options);
  } else {
    auto model = load_model_dir(args.required("local"));
    model.network->to(device);
    results = evaluate_denoiser(model.network, images, options);
  }
  if (args.has("json")) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& result : results) {
      auto scores = [](const QualityScores& s) {
        return nlohmann::json{{"psnr", s.psnr}, {"ssim", s.ssim}};
      };
      nlohmann::json entry = {{"images", result.images},
                              {"noisy", scores(result.noisy)},
                              {"model", scores(result.network)}};
      if (options.classical_reference) {
        entry["nlm"] = scores(result.nlm);
        entry["nlm"]["strength_factor"] = options.nlm.factor(result.sigma);
      }
      char key[32];
      std::snprintf(key, sizeof(key), "%g", result.sigma);
      out[key] = entry;
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::printf("%zu images, noise seed %llu\n", images.size(),
              static_cast<unsigned long long>(options.seed));
  std::printf("%-6s %-16s %-16s %-16s %s\n", "sigma", "noisy PSNR/SSIM", "model PSNR/SSIM",
              options.classical_reference ? "NLM PSNR/SSIM" : "", "model gain");
  for (const auto& result : results) {
    char nlm[32] = "";
    if (options.classical_reference) {
      std::snprintf(nlm, sizeof(nlm), "%.2f / %.4f", result.nlm.psnr, result.nlm.ssim);
    }
    std::printf("%-6g %5.2f / %.4f   %5.2f / %.4f   %-16s %+.2f dB\n", result.sigma,
                result.noisy.psnr, result.noisy.ssim, result.network.psnr, result.network.ssim, nlm,
                result.network.psnr - result.noisy.psnr);
  }
  return 0;
}

}  // namespace ern::cli
