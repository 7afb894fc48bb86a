#pragma once
// OpenCV's colour non-local means, the classical peer every quality figure is compared with. Its
// filter strength is h = factor x sigma (the same h for luminance and colour), with the factor
// per noise level tuned on the val photographs (`ernctl tune-nlm`, stored in configs/nlm.yaml),
// so the peer is as good as a careful user would make it.

#include <filesystem>
#include <map>
#include <string>

#include <opencv2/core.hpp>

namespace ern {

struct NlmStrength {
  std::map<double, double> factor_by_sigma;
  std::string tuned_on;  // what the factors were chosen on (for reports)

  // The factor of the nearest tuned sigma; 0.6 when nothing is tuned.
  double factor(double sigma) const;
};

// configs/nlm.yaml: `strength_factor: {15: 0.6, 25: 0.6, 50: 0.7}` and `tuned_on: ...`. Throws
// std::runtime_error naming the file and the bad key.
NlmStrength load_nlm_strength(const std::filesystem::path& yaml_file);
// The tuned strength from `yaml_file` when it exists (configs/nlm.yaml from the repository root),
// else the untuned default.
NlmStrength load_nlm_strength_if_present(
    const std::filesystem::path& yaml_file = "configs/nlm.yaml");
void save_nlm_strength(const std::filesystem::path& yaml_file, const NlmStrength& strength);

// fastNlMeansDenoisingColored with a 7x7 template and a 21x21 search window.
cv::Mat nlm_denoise(const cv::Mat& rgb8, double sigma, double factor);

}  // namespace ern
