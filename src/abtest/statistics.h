// Fixed-horizon A/B statistics from sufficient statistics (counts, means, variances): the
// two-proportion z-test, Welch's t-test, the sample-ratio-mismatch check and the minimum sample
// size per arm. Lifts are treatment minus control. Confidence intervals for the relative lift
// (B - A) / |A| use the delta method, as GrowthBook does; the p-value is the absolute lift's.
// Formulas and how they differ from GrowthBook: docs/abtest.md. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "common/result.h"

namespace falaj::abtest {

struct Interval {
  double lower = 0;
  double upper = 0;
};

struct Estimate {
  double value = 0;
  Interval ci;
};

struct TestResult {
  double statistic = 0;              // z or t
  double degrees_of_freedom = 0;     // Welch's; +inf for the z-test
  double p_value = 1;                // two-sided
  Estimate absolute;                 // treatment - control
  std::optional<Estimate> relative;  // (treatment - control) / |control|; none when control is 0
};

struct ProportionArm {
  int64_t units = 0;
  int64_t conversions = 0;
};

struct MeanArm {
  int64_t units = 0;
  double mean = 0;
  double variance = 0;  // sample variance, n - 1 denominator
};

// kInvalidArgument unless units > 0 and 0 <= conversions <= units.
Status ValidateArm(const ProportionArm& arm);
// kInvalidArgument unless units >= 2 and the mean and a variance >= 0 are finite.
Status ValidateArm(const MeanArm& arm);

// An arm's conversion rate and that rate's sampling variance p(1 - p)/n; needs a valid arm.
struct RateEstimate {
  double rate = 0;
  double variance = 0;
};
RateEstimate EstimateRate(const ProportionArm& arm);

// Two-proportion z-test. The p-value uses the pooled variance (the textbook test of equal
// proportions); the intervals use each arm's own variance p(1 - p)/n, which is what an
// interval around a non-zero difference needs (GrowthBook uses it for both). Confidence
// 1 - alpha. Fails with kInvalidArgument on bad counts or alpha, and with kFailedPrecondition
// when both arms are all conversions or all non-conversions (no variance to test against).
Result<TestResult> TwoProportionZTest(const ProportionArm& control, const ProportionArm& treatment,
                                      double alpha = 0.05);

// Welch's unequal-variance t-test with Welch–Satterthwaite degrees of freedom; both intervals
// use the t quantile at those degrees of freedom. Needs >= 2 units per arm; fails with
// kFailedPrecondition when both variances are 0.
Result<TestResult> WelchTTest(const MeanArm& control, const MeanArm& treatment,
                              double alpha = 0.05);

// GrowthBook checks SRM only once every arm has this many units.
inline constexpr int64_t kSrmMinUnitsPerArm = 8;
inline constexpr double kSrmThreshold = 0.001;

struct SrmResult {
  double chi_square = 0;
  double degrees_of_freedom = 0;
  double p_value = 1;
  bool mismatch = false;  // p < threshold and every arm has kSrmMinUnitsPerArm units
};

// Chi-square goodness of fit of the units per arm against the configured weights (any positive
// scale; expected_i = N w_i / sum w). Needs >= 2 arms, as many weights as arms, N > 0.
Result<SrmResult> SampleRatioMismatch(std::span<const int64_t> units,
                                      std::span<const double> weights,
                                      double threshold = kSrmThreshold);

struct SampleSize {
  double exact = 0;           // the formula's real value
  int64_t units_per_arm = 0;  // rounded up
};

// Units per arm (equal split) for a two-sided two-proportion test to detect the absolute
// difference `mde` from `baseline` (both rates in (0, 1)) at level alpha with the given power:
//   n = (z_{1-a/2} sqrt(2 pbar (1 - pbar)) + z_power sqrt(p1 q1 + p2 q2))^2 / mde^2.
Result<SampleSize> MinimumSampleSizeForProportions(double baseline, double mde, double alpha = 0.05,
                                                   double power = 0.8);

// The same for a mean with standard deviation `stddev` in both arms:
//   n = 2 stddev^2 (z_{1-a/2} + z_power)^2 / mde^2.
Result<SampleSize> MinimumSampleSizeForMeans(double stddev, double mde, double alpha = 0.05,
                                             double power = 0.8);

}  // namespace falaj::abtest
