// Drift reports of a window (or a dataset) against a reference profile (data/column_profile).
// The reference of a monitor is a histogram per numeric column (a model version's training
// reference profile, or a dataset version profiled when the monitor is created), never raw
// rows, so every statistic here is computed on the reference's bins: the current values are
// counted on the same bins plus an underflow and an overflow bin (NumericWindowProfile), and a
// bin stands for its midpoint (the open bins for lo - w/2 and hi + w/2). docs/monitoring.md
// states what that changes against Evidently.
//
// Pure functions and immutable values; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "data/column_profile.h"
#include "monitoring/drift_tests.h"
#include "monitoring/streaming_profile.h"

namespace falaj::monitoring {

// One numeric column of the reference, ready to compare windows against.
struct FeatureReference {
  std::string name;
  BinEdges edges;
  std::vector<int64_t> counts;  // edges.count + 2 entries, the two open bins 0
  int64_t rows = 0;             // rows, missing ones included
  int64_t missing = 0;          // null, NaN (and +-inf, which the profile leaves out of bins)
  double stddev = 0;            // of the reference's finite values (ddof 0), from the profile
  std::map<std::string, double> quantiles;  // p1 … p99
  int64_t observed() const { return rows - missing; }
  double missing_rate() const { return rows == 0 ? 0.0 : static_cast<double>(missing) / rows; }
};

// The numeric columns of a profile that have a histogram, by name. Other kinds are skipped
// (the live window only sees model inputs, which are numbers).
std::map<std::string, FeatureReference> NumericReferences(const data::TableProfile& profile);

// A statistic chosen by the user for a feature instead of the default, with its threshold.
struct StatisticChoice {
  DriftTest test = DriftTest::kKolmogorovSmirnov;
  double threshold = 0.05;
};
// "ks", "wasserstein", "psi", "jensenshannon" (the statistics computable from bins), with
// Evidently's thresholds (ks: p <= 0.05; the distances: >= 0.1) unless `threshold` is given.
Result<StatisticChoice> ParseStatisticChoice(std::string_view name,
                                             std::optional<double> threshold);

// The drift of one feature's window against its reference: {"statistic", "score",
// "p_value" (tests), "threshold", "drifted", "reference": {...}, "current": {...}} with the
// bin edges, both sides' bin counts, missing rates, out-of-range counts and quantiles.
// FAILED_PRECONDITION when either side has no observed value.
Result<nlohmann::json> FeatureDrift(const FeatureReference& reference,
                                    const NumericWindowProfile& current,
                                    const std::optional<StatisticChoice>& choice);

// The score and decision alone (FeatureDrift's core), for tests and benchmarks.
Result<DriftResult> BinnedDrift(const FeatureReference& reference,
                                std::span<const int64_t> current_counts,
                                const std::optional<StatisticChoice>& choice);

}  // namespace falaj::monitoring
