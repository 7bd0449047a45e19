#include "monitoring/drift_tests.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace falaj::monitoring {
namespace {

constexpr double kPValueThreshold = 0.05;
constexpr double kDistanceThreshold = 0.1;

int64_t Total(const CategoryCounts& counts) {
  int64_t total = 0;
  for (const auto& [key, count] : counts) total += count;
  return total;
}

// Numeric values with few distinct values are tested as categories; "%.17g" keeps them distinct.
CategoryCounts AsCategories(std::span<const double> values) {
  std::map<double, int64_t> by_value;
  for (double value : values) ++by_value[value];
  CategoryCounts counts;
  for (const auto& [value, count] : by_value) counts[fmt::format("{:.17g}", value)] = count;
  return counts;
}

// Distinct values of both samples, stopping once more than `limit` are seen.
size_t DistinctUpTo(std::span<const double> a, std::span<const double> b, size_t limit) {
  std::vector<double> seen;
  for (auto values : {a, b}) {
    for (double value : values) {
      if (std::find(seen.begin(), seen.end(), value) != seen.end()) continue;
      seen.push_back(value);
      if (seen.size() > limit) return seen.size();
    }
  }
  return seen.size();
}

DriftResult PValueResult(DriftTest test, const TestOutcome& outcome, bool inclusive) {
  bool drifted =
      inclusive ? outcome.p_value <= kPValueThreshold : outcome.p_value < kPValueThreshold;
  return DriftResult{test, outcome.statistic, outcome.p_value, kPValueThreshold, drifted};
}

DriftResult DistanceResult(DriftTest test, double distance) {
  return DriftResult{test, distance, std::nullopt, kDistanceThreshold,
                     distance >= kDistanceThreshold};
}

}  // namespace

std::string_view DriftTestName(DriftTest test) {
  switch (test) {
    case DriftTest::kKolmogorovSmirnov:
      return "ks";
    case DriftTest::kChiSquare:
      return "chisquare";
    case DriftTest::kZ:
      return "z";
    case DriftTest::kWasserstein:
      return "wasserstein";
    case DriftTest::kJensenShannon:
      return "jensenshannon";
    case DriftTest::kPsi:
      return "psi";
  }
  return "unknown";
}

Result<DriftResult> NumericDrift(std::span<const double> reference,
                                 std::span<const double> current) {
  if (reference.empty() || current.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "both samples must be non-empty");
  }
  for (auto values : {reference, current}) {
    if (!std::all_of(values.begin(), values.end(), [](double v) { return std::isfinite(v); })) {
      return MakeError(ErrorCode::kInvalidArgument, "drop NaN and infinite values first");
    }
  }
  size_t unique = DistinctUpTo(reference, current, 5);
  if (reference.size() <= kLargeReference) {
    if (unique > 5) {
      FALAJ_ASSIGN_OR_RETURN(TestOutcome ks, KolmogorovSmirnov(reference, current));
      return PValueResult(DriftTest::kKolmogorovSmirnov, ks, /*inclusive=*/true);
    }
    CategoryCounts ref = AsCategories(reference);
    CategoryCounts cur = AsCategories(current);
    if (unique >= 3) {
      FALAJ_ASSIGN_OR_RETURN(TestOutcome chi, ChiSquare(ref, cur));
      return PValueResult(DriftTest::kChiSquare, chi, false);
    }
    FALAJ_ASSIGN_OR_RETURN(TestOutcome z, ZTest(ref, cur));
    return PValueResult(DriftTest::kZ, z, false);
  }
  if (unique > 5) {
    FALAJ_ASSIGN_OR_RETURN(double distance, NormedWasserstein(reference, current));
    return DistanceResult(DriftTest::kWasserstein, distance);
  }
  FALAJ_ASSIGN_OR_RETURN(double js, JensenShannon(AsCategories(reference), AsCategories(current)));
  return DistanceResult(DriftTest::kJensenShannon, js);
}

Result<DriftResult> CategoricalDrift(const CategoryCounts& reference,
                                     const CategoryCounts& current) {
  if (Total(reference) <= 0 || Total(current) <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "both samples must be non-empty");
  }
  if (static_cast<size_t>(Total(reference)) > kLargeReference) {
    FALAJ_ASSIGN_OR_RETURN(double js, JensenShannon(reference, current));
    return DistanceResult(DriftTest::kJensenShannon, js);
  }
  CategoryCounts keys = reference;
  for (const auto& [key, count] : current) keys.try_emplace(key, 0);
  if (keys.size() > 2) {
    FALAJ_ASSIGN_OR_RETURN(TestOutcome chi, ChiSquare(reference, current));
    return PValueResult(DriftTest::kChiSquare, chi, false);
  }
  FALAJ_ASSIGN_OR_RETURN(TestOutcome z, ZTest(reference, current));
  return PValueResult(DriftTest::kZ, z, false);
}

}  // namespace falaj::monitoring
