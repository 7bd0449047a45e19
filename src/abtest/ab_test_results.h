// An A/B test's results from its aggregates: per arm the units and requests, per metric each
// arm's mean, the fixed-horizon test (z-test for conversions, Welch for numeric metrics), the
// always-valid confidence sequence, guardrail harm; the sample-ratio-mismatch check; the minimum
// sample per arm for the primary metric and progress toward it; and the recommendation the
// decision policy follows. Every statistic comes from statistics.h and sequential.h. Pure
// functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "abtest/ab_test.h"
#include "abtest/ab_test_store.h"
#include "abtest/sequential.h"
#include "abtest/statistics.h"

namespace falaj::abtest {

struct ArmSummary {
  std::string arm;
  int64_t units = 0;    // exposed units (conversion metrics: the denominator)
  int64_t samples = 0;  // conversion: exposed units; numeric: outcomes
  int64_t conversions = 0;
  double mean = 0;  // conversion rate or mean value
  double variance = 0;
};

struct MetricResult {
  MetricSpec spec;
  ArmSummary control;
  ArmSummary treatment;
  std::optional<TestResult> fixed;  // none while the data cannot support the test
  std::optional<SequentialResult> sequential;
  std::string unavailable;         // why fixed / sequential are missing
  bool favours_treatment = false;  // the sequence excludes 0 on the good side
  bool against_treatment = false;  // … on the bad side
  bool harmed = false;             // guardrails: beyond the harm threshold on the bad side
};

struct Recommendation {
  std::string action;  // continue, promote, rollback or stop
  std::string reason;
};

struct Results {
  int64_t control_units = 0;
  int64_t treatment_units = 0;
  int64_t control_requests = 0;
  int64_t treatment_requests = 0;
  std::optional<SrmResult> srm;
  std::string srm_unavailable;
  std::optional<SampleSize> minimum_sample;  // per arm, for the primary metric
  std::string minimum_sample_unavailable;
  double progress = 0;  // smallest arm's primary-metric sample / minimum, capped at 1
  bool minimum_reached = false;
  std::vector<MetricResult> metrics;
  Recommendation recommendation;
};

Results ComputeResults(const AbTest& test, const Tally& tally);

// The decision the policy takes on these results (auto policy) or recommends (manual):
// stop on SRM; roll back when a guardrail is harmed or the primary metric's sequence excludes 0
// against the treatment; promote when it excludes 0 in the treatment's favour and the minimum
// sample is reached; otherwise continue.
Recommendation Recommend(const Results& results);

nlohmann::json ResultsToJson(const AbTest& test, const Results& results);

}  // namespace falaj::abtest
