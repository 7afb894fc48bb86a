// The validation curve of a training run survives a resume: rows after the resumed step are
// dropped, wall time continues from the last kept row, and the late-training gain is measured
// over the right span.

#include <gtest/gtest.h>

#include <fstream>

#include "model/validation_curve.h"
#include "tests/test_support.h"

namespace ern {
namespace {

TEST(ValidationCurve, ResumeDropsRowsAfterTheCheckpointAndContinuesWallTime) {
  test::TempDir dir;
  const auto path = dir.path() / "val-curve.tsv";
  {
    ValidationCurve curve(path, 0);
    EXPECT_EQ(curve.wall_seconds_before(), 0.0);
    curve.append({100, 20.0, 0.5, 10.0});
    curve.append({200, 21.0, 0.6, 20.0});
    curve.append({300, 21.5, 0.65, 30.0});  // written after the last checkpoint (step 200)
  }
  ValidationCurve resumed(path, 200);
  ASSERT_EQ(resumed.points().size(), 2u);
  EXPECT_EQ(resumed.points().back().step, 200);
  EXPECT_DOUBLE_EQ(resumed.wall_seconds_before(), 20.0);
  resumed.append({300, 21.4, 0.64, 31.0});

  ValidationCurve reread(path, 1000);
  ASSERT_EQ(reread.points().size(), 3u);
  EXPECT_DOUBLE_EQ(reread.points().back().psnr, 21.4);
}

TEST(ValidationCurve, GainOverTheLastFifth) {
  test::TempDir dir;
  ValidationCurve curve(dir.path() / "curve.tsv", 0);
  EXPECT_EQ(curve.psnr_gain_over_last(0.2), 0.0);
  for (int step = 1; step <= 10; ++step) curve.append({step * 100, 30.0 + step * 0.01, 0.8, 1.0});
  // From step 800 (the row at 0.8 * 1000) to step 1000.
  EXPECT_NEAR(curve.psnr_gain_over_last(0.2), 0.02, 1e-9);
}

TEST(ValidationCurve, MalformedFileIsAnErrorNamingTheLine) {
  test::TempDir dir;
  const auto path = dir.path() / "curve.tsv";
  std::ofstream(path) << "step\tpsnr\tssim\twall_seconds\n100\tnot-a-number\n";
  try {
    ValidationCurve curve(path, 1000);
    FAIL() << "accepted a malformed curve";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("curve.tsv:2"), std::string::npos) << error.what();
  }
}

}  // namespace
}  // namespace ern
