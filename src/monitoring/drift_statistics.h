// Drift statistics between a reference sample and a current sample of one feature, and the
// default test per column type and size (Evidently's registry, docs/monitoring.md). Numeric inputs
// must be finite: callers drop NaN and +-inf first (they count as missing). Every function is pure
// and thread-safe.
//
// Conventions, chosen to match scipy so that tests/reference/drift_reference.py can check them:
//   PSI            sum (r_i - c_i) ln(r_i / c_i), natural log, on the reference's bins (below);
//                  an empty bin's proportion becomes min_nonzero / 1e6 if the side's smallest
//                  non-zero proportion is <= 1e-4, else 1e-4, per side, not renormalised
//                  (Evidently's epsilon).
//   KS             D = sup |F_ref - F_cur| (scipy.stats.ks_2samp); p-value by scipy's 'exact'
//                  method when max(n_ref, n_cur) <= 10000 (scipy's 'auto' rule), else the
//                  asymptotic Kolmogorov distribution Q(sqrt(n m / (n + m)) D)
//                  (scipy.stats.kstwobign.sf; scipy 1.5+ 'asymp' uses kstwo instead: close, not
//                  equal, at these sizes).
//   Jensen-Shannon distance, natural log (scipy.spatial.distance.jensenshannon's default,
//                  Evidently's base): range [0, sqrt(ln 2)].
//   Wasserstein    W1 (scipy.stats.wasserstein_distance) / max(std_ref, 0.001), std with ddof 0.
//   chi-square     goodness of fit of current counts against reference proportions scaled to
//                  n_cur (scipy.stats.chisquare(f_obs, f_exp), df = K - 1), as Evidently does.
//   Z              two-proportion z-test on the share of the smallest category, two-sided.
// Reference bins for numeric PSI and JS: Sturges' count (ceil(log2 n_ref) + 1) of equal-width bins
// over [min_ref, max_ref] (numpy.histogram_bin_edges(ref, 'sturges')), plus one open bin below and
// one above for current values outside the reference's range.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace falaj::monitoring {

// Equal-width bins over [lo, hi]; bin i covers [lo + i w, lo + (i + 1) w), the last one closed
// (numpy.histogram's rule). A constant reference widens the range to [lo - 0.5, hi + 0.5] as
// numpy does.
struct BinEdges {
  double lo = 0.0;
  double hi = 0.0;
  int32_t count = 1;
  bool operator==(const BinEdges&) const = default;
};

// Sturges bins of the reference. Fails on an empty reference.
Result<BinEdges> SturgesBins(std::span<const double> reference);

// Counts of `values` in `edges`' bins with an underflow bin first and an overflow bin last:
// count + 2 entries.
std::vector<int64_t> BinCounts(const BinEdges& edges, std::span<const double> values);

// The index (0 .. count + 1, underflow 0, overflow count + 1) of `value`: O(1).
size_t BinIndex(const BinEdges& edges, double value);

// PSI between two count vectors of equal length (reference first). Fails on empty or unequal
// inputs or a side with no observations.
Result<double> PsiFromCounts(std::span<const int64_t> reference, std::span<const int64_t> current);

// Jensen-Shannon distance (natural log) between the two normalised count vectors.
Result<double> JensenShannonFromCounts(std::span<const int64_t> reference,
                                       std::span<const int64_t> current);

// PSI and JS of numeric samples on the reference's Sturges bins (with the two open bins).
Result<double> Psi(std::span<const double> reference, std::span<const double> current);
Result<double> JensenShannon(std::span<const double> reference, std::span<const double> current);

struct TestOutcome {
  double statistic = 0.0;
  double p_value = 1.0;
};

// Two-sample KS statistic and two-sided p-value (see the header comment for the method).
Result<TestOutcome> KolmogorovSmirnov(std::span<const double> reference,
                                      std::span<const double> current);

// The p-value of scipy's exact two-sided two-sample KS for D = h / lcm(n, m).
double KsExactPValue(int64_t n, int64_t m, double d);

// Q(lambda) = 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 lambda^2), the Kolmogorov survival function.
double KolmogorovSurvival(double lambda);

// W1 / max(std_ref, 0.001).
Result<double> NormedWasserstein(std::span<const double> reference,
                                 std::span<const double> current);

// Plain W1 between the empirical distributions.
Result<double> Wasserstein1(std::span<const double> reference, std::span<const double> current);

// Category counts keyed by value; ordered keys give the Z test its deterministic first category.
using CategoryCounts = std::map<std::string, int64_t>;

// Goodness-of-fit chi-square of current against reference frequencies over the union of keys. A
// category absent from the reference but present in current gives statistic +inf and p = 0.
Result<TestOutcome> ChiSquare(const CategoryCounts& reference, const CategoryCounts& current);

// Two-proportion z-test on the share of the first (smallest) key of the union.
Result<TestOutcome> ZTest(const CategoryCounts& reference, const CategoryCounts& current);

// JS distance (natural log) between category frequencies over the union of keys.
Result<double> JensenShannon(const CategoryCounts& reference, const CategoryCounts& current);

}  // namespace falaj::monitoring
