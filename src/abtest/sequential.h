// Always-valid confidence sequences for the difference of two means or proportions, so results
// can be read after every batch without inflating the false-positive rate. The boundary is the
// two-sided normal-mixture boundary of Howard et al. (2021) in the asymptotic form of
// Waudby-Smith et al. (arXiv 2103.06476), as GrowthBook's sequential engine uses it:
//   estimate ± s sqrt( 2 (N rho^2 + 1) / (N^2 rho^2) · ln( sqrt(N rho^2 + 1) / alpha ) ),
// with N the units in both arms, s = standard error · sqrt(N) and the mixing parameter
//   rho^2 = (-2 ln alpha + ln(-2 ln alpha + 1)) / N*,
// which makes the boundary tightest at N = N* (tuning_units, default 5,000 as in GrowthBook).
// The interval covers the true difference at every N simultaneously with probability
// >= 1 - alpha (asymptotically). Pure functions, thread-safe.
#pragma once

#include "abtest/statistics.h"
#include "common/result.h"

namespace falaj::abtest {

struct SequentialOptions {
  double alpha = 0.05;
  double tuning_units = 5000;  // N*: the total sample size where the boundary is tightest
};

struct SequentialResult {
  Estimate absolute;         // treatment - control, always-valid interval
  bool significant = false;  // the interval excludes 0
};

// The mixing variance rho^2 for the options.
double MixingVariance(const SequentialOptions& options);

// The half-width of the confidence sequence for an estimate with this standard error after
// total_units units in both arms.
Result<double> ConfidenceSequenceHalfWidth(double standard_error, double total_units,
                                           const SequentialOptions& options);

// Difference in conversion rate with the unpooled variance p(1 - p)/n per arm.
Result<SequentialResult> SequentialProportions(const ProportionArm& control,
                                               const ProportionArm& treatment,
                                               const SequentialOptions& options = {});

// Difference in means from per-arm sample variances.
Result<SequentialResult> SequentialMeans(const MeanArm& control, const MeanArm& treatment,
                                         const SequentialOptions& options = {});

}  // namespace falaj::abtest
