#pragma once
// The validation curve of a training run: one row per evaluation (step, PSNR, SSIM, training wall
// time so far) in a tab-separated file beside the run's checkpoint. A resumed run keeps the rows up
// to the step it resumes from, drops later ones (written after that checkpoint, so never part of
// the run that continues), and counts wall time on from the last row kept.

#include <cstdint>
#include <filesystem>
#include <vector>

namespace ern {

struct ValidationPoint {
  int64_t step = 0;
  double psnr = 0.0;
  double ssim = 0.0;
  double wall_seconds = 0.0;  // training time up to this step, over every resume
};

class ValidationCurve {
 public:
  // Reads `path` when it exists, keeping rows with step <= `resumed_step`; rewrites the file when
  // rows were dropped. Throws std::runtime_error on a malformed file.
  ValidationCurve(std::filesystem::path path, int64_t resumed_step);

  // Appends a row and flushes it to disk.
  void append(const ValidationPoint& point);

  const std::vector<ValidationPoint>& points() const { return points_; }
  // Wall time already spent before this process started (the last kept row's).
  double wall_seconds_before() const;
  // PSNR gained over the last `fraction` of the steps recorded so far (last row minus the row at
  // or before step (1 - fraction) * last step); 0 with fewer than two rows.
  double psnr_gain_over_last(double fraction) const;

 private:
  void rewrite() const;

  std::filesystem::path path_;
  std::vector<ValidationPoint> points_;
};

}  // namespace ern
