// The default drift test for one column, chosen by column type and size as Evidently's registry
// does (REFERENCE 4.1, docs/monitoring.md), with its threshold and drift decision. Pure and
// thread-safe.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "monitoring/drift_statistics.h"

namespace falaj::monitoring {

enum class DriftTest { kKolmogorovSmirnov, kChiSquare, kZ, kWasserstein, kJensenShannon, kPsi };

// "ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi" (Evidently's names).
std::string_view DriftTestName(DriftTest test);

struct DriftResult {
  DriftTest test = DriftTest::kKolmogorovSmirnov;
  double statistic = 0.0;
  std::optional<double> p_value{};  // set for the hypothesis tests (KS, chi-square, Z)
  double threshold = 0.0;
  bool drifted = false;
};

// Above this many reference rows, distances replace hypothesis tests (they stay small for tiny
// shifts where p-values would flag everything).
inline constexpr size_t kLargeReference = 1000;

// A numeric column: values must be finite (missing values dropped by the caller).
//   n_ref <= 1000: KS (n_unique > 5, drift p <= 0.05), chi-square (3..5, p < 0.05), Z (<= 2)
//   n_ref >  1000: normed Wasserstein (n_unique > 5, drift >= 0.1), else JS (>= 0.1)
// n_unique counts distinct values over reference and current together.
Result<DriftResult> NumericDrift(std::span<const double> reference,
                                 std::span<const double> current);

// A categorical column: n_ref <= 1000: chi-square (n_unique > 2) or Z; else JS (>= 0.1).
Result<DriftResult> CategoricalDrift(const CategoryCounts& reference,
                                     const CategoryCounts& current);

}  // namespace falaj::monitoring
