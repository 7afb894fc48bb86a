#include "model/nlm_reference.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <yaml-cpp/yaml.h>
#include <opencv2/imgproc.hpp>
#include <opencv2/photo.hpp>

#include "common/atomic_file.h"

namespace ern {

double NlmStrength::factor(double sigma) const {
  if (factor_by_sigma.empty()) return 0.6;
  auto best = factor_by_sigma.begin();
  for (auto it = factor_by_sigma.begin(); it != factor_by_sigma.end(); ++it) {
    if (std::abs(it->first - sigma) < std::abs(best->first - sigma)) best = it;
  }
  return best->second;
}

NlmStrength load_nlm_strength(const std::filesystem::path& yaml_file) {
  NlmStrength strength;
  try {
    const YAML::Node root = YAML::LoadFile(yaml_file.string());
    for (const auto& entry : root["strength_factor"]) {
      const double sigma = entry.first.as<double>();
      const double factor = entry.second.as<double>();
      if (!(sigma > 0 && sigma <= 255) || !(factor > 0 && factor <= 5)) {
        throw std::runtime_error("strength_factor: sigma must be in (0, 255] and factor in (0, 5]");
      }
      strength.factor_by_sigma[sigma] = factor;
    }
    if (root["tuned_on"]) strength.tuned_on = root["tuned_on"].as<std::string>();
  } catch (const YAML::Exception& error) {
    throw std::runtime_error(yaml_file.string() + ": " + error.what());
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(yaml_file.string() + ": " + error.what());
  }
  if (strength.factor_by_sigma.empty()) {
    throw std::runtime_error(yaml_file.string() + ": strength_factor: no noise level is tuned");
  }
  return strength;
}

NlmStrength load_nlm_strength_if_present(const std::filesystem::path& yaml_file) {
  return std::filesystem::exists(yaml_file) ? load_nlm_strength(yaml_file) : NlmStrength();
}

void save_nlm_strength(const std::filesystem::path& yaml_file, const NlmStrength& strength) {
  std::ostringstream out;
  out << "# OpenCV non-local means filter strength h = factor x sigma, per noise level, chosen by\n"
         "# `ernctl tune-nlm` for the best mean PSNR; every NLM figure ERN reports uses it.\n";
  out << "tuned_on: \"" << strength.tuned_on << "\"\n";
  out << "strength_factor:\n";
  for (const auto& [sigma, factor] : strength.factor_by_sigma) {
    out << "  " << sigma << ": " << factor << "\n";
  }
  write_file_atomically(yaml_file, out.str());
}

cv::Mat nlm_denoise(const cv::Mat& rgb8, double sigma, double factor) {
  const auto h = static_cast<float>(factor * sigma);
  cv::Mat bgr, denoised, rgb;
  cv::cvtColor(rgb8, bgr, cv::COLOR_RGB2BGR);
  cv::fastNlMeansDenoisingColored(bgr, denoised, h, h, 7, 21);
  cv::cvtColor(denoised, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

}  // namespace ern
