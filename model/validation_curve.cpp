#include "model/validation_curve.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "common/atomic_file.h"

namespace ern {
namespace {

constexpr const char* kHeader = "step\tpsnr\tssim\twall_seconds";

std::string format_row(const ValidationPoint& point) {
  std::ostringstream row;
  row.precision(6);
  row << point.step << '\t' << std::fixed << point.psnr << '\t' << point.ssim << '\t'
      << point.wall_seconds;
  return row.str();
}

}  // namespace

ValidationCurve::ValidationCurve(std::filesystem::path path, int64_t resumed_step)
    : path_(std::move(path)) {
  std::ifstream in(path_);
  if (!in) return;
  std::string line;
  bool dropped = false;
  for (int number = 1; std::getline(in, line); ++number) {
    if (number == 1 && line == kHeader) continue;
    std::istringstream fields(line);
    ValidationPoint point;
    if (!(fields >> point.step >> point.psnr >> point.ssim >> point.wall_seconds)) {
      throw std::runtime_error(path_.string() + ":" + std::to_string(number) +
                               ": expected step, psnr, ssim, wall_seconds");
    }
    if (point.step > resumed_step) {
      dropped = true;
      continue;
    }
    points_.push_back(point);
  }
  if (dropped) rewrite();
}

void ValidationCurve::rewrite() const {
  std::string text = std::string(kHeader) + "\n";
  for (const auto& point : points_) text += format_row(point) + "\n";
  write_file_atomically(path_, text);
}

void ValidationCurve::append(const ValidationPoint& point) {
  const bool fresh = !std::filesystem::exists(path_);
  std::ofstream out(path_, std::ios::app);
  if (fresh) out << kHeader << '\n';
  out << format_row(point) << '\n';
  out.flush();
  if (!out) throw std::runtime_error(path_.string() + ": cannot append the validation row");
  points_.push_back(point);
}

double ValidationCurve::wall_seconds_before() const {
  return points_.empty() ? 0.0 : points_.back().wall_seconds;
}

double ValidationCurve::psnr_gain_over_last(double fraction) const {
  if (points_.size() < 2) return 0.0;
  const auto& last = points_.back();
  const double from_step = (1.0 - fraction) * static_cast<double>(last.step);
  const ValidationPoint* start = &points_.front();
  for (const auto& point : points_) {
    if (static_cast<double>(point.step) <= from_step) start = &point;
  }
  return last.psnr - start->psnr;
}

}  // namespace ern
