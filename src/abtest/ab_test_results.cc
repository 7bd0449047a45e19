#include "abtest/ab_test_results.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace falaj::abtest {
namespace {

ArmSummary Summarise(const std::string& arm_name, const ArmTally& arm, const MetricSpec& spec) {
  ArmSummary summary;
  summary.arm = arm_name;
  summary.units = arm.units;
  auto found = arm.metrics.find(spec.name);
  const MetricTally tally = found == arm.metrics.end() ? MetricTally{} : found->second;
  if (spec.kind == MetricKind::kConversion) {
    summary.samples = arm.units;
    summary.conversions = tally.conversions;
    if (arm.units > 0) {
      summary.mean = static_cast<double>(tally.conversions) / static_cast<double>(arm.units);
      summary.variance = summary.mean * (1 - summary.mean);
    }
    return summary;
  }
  summary.samples = tally.n;
  if (tally.n > 0) summary.mean = tally.sum / static_cast<double>(tally.n);
  if (tally.n > 1) {
    // Sum of squared deviations from the sums; rounding can make it a hair negative.
    const double squares = tally.sum_squares - tally.sum * summary.mean;
    summary.variance = std::max(0.0, squares / static_cast<double>(tally.n - 1));
  }
  return summary;
}

MetricResult Analyse(const AbTest& test, const MetricSpec& spec, const Tally& tally) {
  MetricResult result;
  result.spec = spec;
  result.control = Summarise(test.control, tally.at(test.control), spec);
  result.treatment = Summarise(test.treatment, tally.at(test.treatment), spec);
  const SequentialOptions options{test.alpha, test.tuning_units};
  Result<TestResult> fixed = MakeError(ErrorCode::kInternal, "not computed");
  Result<SequentialResult> sequential = MakeError(ErrorCode::kInternal, "not computed");
  if (spec.kind == MetricKind::kConversion) {
    const ProportionArm control{result.control.units, result.control.conversions};
    const ProportionArm treatment{result.treatment.units, result.treatment.conversions};
    fixed = TwoProportionZTest(control, treatment, test.alpha);
    sequential = SequentialProportions(control, treatment, options);
  } else {
    const MeanArm control{result.control.samples, result.control.mean, result.control.variance};
    const MeanArm treatment{result.treatment.samples, result.treatment.mean,
                            result.treatment.variance};
    fixed = WelchTTest(control, treatment, test.alpha);
    sequential = SequentialMeans(control, treatment, options);
  }
  if (fixed) result.fixed = *fixed;
  if (sequential) result.sequential = *sequential;
  if (!fixed)
    result.unavailable = fixed.error().message;
  else if (!sequential)
    result.unavailable = sequential.error().message;
  if (!result.sequential) return result;
  // Orient the interval so that "good" is positive.
  const Interval& ci = result.sequential->absolute.ci;
  const double sign = spec.higher_is_better ? 1 : -1;
  const double good_low = std::min(sign * ci.lower, sign * ci.upper);
  const double good_high = std::max(sign * ci.lower, sign * ci.upper);
  result.favours_treatment = good_low > 0;
  result.against_treatment = good_high < 0;
  result.harmed = spec.role == MetricRole::kGuardrail && good_high < -spec.harm_threshold;
  return result;
}

void SampleRatio(const AbTest& test, Results& results) {
  const int64_t units[] = {results.control_units, results.treatment_units};
  const double weights[] = {test.control_weight, test.treatment_weight};
  auto srm = SampleRatioMismatch(units, weights);
  if (srm)
    results.srm = *srm;
  else
    results.srm_unavailable = srm.error().message;
}

// The minimum sample per arm to detect the planned relative effect on the primary metric, with
// the control arm's observed rate (or spread) as the baseline.
void MinimumSample(const AbTest& test, const MetricResult& primary, Results& results) {
  const ArmSummary& control = primary.control;
  Result<SampleSize> size = MakeError(ErrorCode::kFailedPrecondition, "no baseline yet");
  if (primary.spec.kind == MetricKind::kConversion) {
    if (control.mean > 0 && control.mean < 1) {
      size = MinimumSampleSizeForProportions(
          control.mean, control.mean * test.minimum_detectable_effect, test.alpha, test.power);
    } else {
      size = MakeError(ErrorCode::kFailedPrecondition,
                       "needs a control conversion rate strictly between 0 and 1 as the baseline "
                       "(now {} of {} units)",
                       control.conversions, control.units);
    }
  } else if (control.samples >= 2 && control.mean != 0 && control.variance > 0) {
    size = MinimumSampleSizeForMeans(std::sqrt(control.variance),
                                     std::abs(control.mean) * test.minimum_detectable_effect,
                                     test.alpha, test.power);
  } else {
    size = MakeError(ErrorCode::kFailedPrecondition,
                     "needs >= 2 control outcomes with a non-zero mean and spread as the baseline");
  }
  if (!size) {
    results.minimum_sample_unavailable = size.error().message;
    return;
  }
  results.minimum_sample = *size;
  const int64_t smallest = std::min(control.samples, primary.treatment.samples);
  results.progress =
      std::min(1.0, static_cast<double>(smallest) /
                        static_cast<double>(std::max<int64_t>(1, size->units_per_arm)));
  results.minimum_reached = smallest >= size->units_per_arm;
}

nlohmann::json IntervalJson(const Interval& interval) {
  return {{"lower", interval.lower}, {"upper", interval.upper}};
}

nlohmann::json EstimateJson(const Estimate& estimate) {
  return {{"value", estimate.value}, {"ci", IntervalJson(estimate.ci)}};
}

nlohmann::json ArmJson(const ArmSummary& arm, MetricKind kind) {
  nlohmann::json json = {{"arm", arm.arm}, {"n", arm.samples}, {"mean", arm.mean}};
  if (kind == MetricKind::kConversion)
    json["conversions"] = arm.conversions;
  else
    json["variance"] = arm.variance;
  return json;
}

nlohmann::json MetricJson(const MetricResult& metric) {
  nlohmann::json json = {{"name", metric.spec.name},
                         {"kind", MetricKindName(metric.spec.kind)},
                         {"role", MetricRoleName(metric.spec.role)},
                         {"higher_is_better", metric.spec.higher_is_better},
                         {"control", ArmJson(metric.control, metric.spec.kind)},
                         {"treatment", ArmJson(metric.treatment, metric.spec.kind)},
                         {"fixed_horizon", nullptr},
                         {"sequential", nullptr}};
  if (metric.fixed) {
    const TestResult& fixed = *metric.fixed;
    json["fixed_horizon"] = {
        {"test", metric.spec.kind == MetricKind::kConversion ? "two_proportion_z" : "welch_t"},
        {"statistic", fixed.statistic},
        {"degrees_of_freedom", std::isfinite(fixed.degrees_of_freedom)
                                   ? nlohmann::json(fixed.degrees_of_freedom)
                                   : nlohmann::json(nullptr)},
        {"p_value", fixed.p_value},
        {"absolute", EstimateJson(fixed.absolute)},
        {"relative", fixed.relative ? EstimateJson(*fixed.relative) : nlohmann::json(nullptr)}};
  }
  if (metric.sequential) {
    json["sequential"] = {{"absolute", EstimateJson(metric.sequential->absolute)},
                          {"excludes_zero", metric.sequential->significant},
                          {"favours_treatment", metric.favours_treatment},
                          {"against_treatment", metric.against_treatment}};
  }
  if (!metric.unavailable.empty()) json["unavailable"] = metric.unavailable;
  if (metric.spec.role == MetricRole::kGuardrail) {
    json["harm_threshold"] = metric.spec.harm_threshold;
    json["harmed"] = metric.harmed;
  }
  return json;
}

}  // namespace

Results ComputeResults(const AbTest& test, const Tally& tally) {
  Tally complete = tally;
  const ArmTally& control = complete[test.control];
  const ArmTally& treatment = complete[test.treatment];
  Results results;
  results.control_units = control.units;
  results.treatment_units = treatment.units;
  results.control_requests = control.requests;
  results.treatment_requests = treatment.requests;
  SampleRatio(test, results);
  for (const auto& spec : test.metrics) {
    results.metrics.push_back(Analyse(test, spec, complete));
    if (spec.role == MetricRole::kPrimary) MinimumSample(test, results.metrics.back(), results);
  }
  results.recommendation = Recommend(results);
  return results;
}

Recommendation Recommend(const Results& results) {
  if (results.srm && results.srm->mismatch) {
    return {"stop", fmt::format("sample ratio mismatch (chi-square p = {:.3g} < 0.001): assignment "
                                "or logging is broken, so no metric can be trusted",
                                results.srm->p_value)};
  }
  for (const auto& metric : results.metrics) {
    if (metric.harmed) {
      return {"rollback",
              fmt::format("guardrail '{}' is harmed: its always-valid interval lies beyond the "
                          "harm threshold {} on the bad side",
                          metric.spec.name, metric.spec.harm_threshold)};
    }
  }
  auto primary = std::find_if(results.metrics.begin(), results.metrics.end(),
                              [](const auto& m) { return m.spec.role == MetricRole::kPrimary; });
  if (primary == results.metrics.end() || !primary->sequential) {
    return {"continue", "not enough data for the primary metric yet" +
                            (primary == results.metrics.end() || primary->unavailable.empty()
                                 ? std::string()
                                 : ": " + primary->unavailable)};
  }
  if (primary->against_treatment) {
    return {"rollback", fmt::format("the always-valid interval of primary metric '{}' excludes 0 "
                                    "against the treatment",
                                    primary->spec.name)};
  }
  if (primary->favours_treatment && results.minimum_reached) {
    return {"promote", fmt::format("the always-valid interval of primary metric '{}' excludes 0 "
                                   "in the treatment's favour and the minimum sample is reached",
                                   primary->spec.name)};
  }
  if (primary->favours_treatment) {
    return {"continue", fmt::format("primary metric '{}' favours the treatment, but the minimum "
                                    "sample per arm is not reached yet ({:.0f} %)",
                                    primary->spec.name, 100 * results.progress)};
  }
  return {"continue", fmt::format("the always-valid interval of primary metric '{}' still "
                                  "includes 0",
                                  primary->spec.name)};
}

nlohmann::json ResultsToJson(const AbTest& test, const Results& results) {
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& metric : results.metrics) metrics.push_back(MetricJson(metric));
  nlohmann::json srm = {{"p_value", nullptr}, {"chi_square", nullptr}, {"alert", false}};
  if (results.srm) {
    srm = {{"p_value", results.srm->p_value},
           {"chi_square", results.srm->chi_square},
           {"alert", results.srm->mismatch}};
  } else {
    srm["unavailable"] = results.srm_unavailable;
  }
  srm["expected_weights"] = {{test.control, test.control_weight},
                             {test.treatment, test.treatment_weight}};
  nlohmann::json minimum = {{"units_per_arm", nullptr},
                            {"exact", nullptr},
                            {"progress", results.progress},
                            {"reached", results.minimum_reached},
                            {"minimum_detectable_effect", test.minimum_detectable_effect},
                            {"alpha", test.alpha},
                            {"power", test.power}};
  if (results.minimum_sample) {
    minimum["units_per_arm"] = results.minimum_sample->units_per_arm;
    minimum["exact"] = results.minimum_sample->exact;
  } else {
    minimum["unavailable"] = results.minimum_sample_unavailable;
  }
  return {{"test", test.name},
          {"status", TestStatusName(test.status)},
          {"arms",
           {{{"arm", test.control},
             {"role", "control"},
             {"units", results.control_units},
             {"requests", results.control_requests}},
            {{"arm", test.treatment},
             {"role", "treatment"},
             {"units", results.treatment_units},
             {"requests", results.treatment_requests}}}},
          {"srm", srm},
          {"minimum_sample", minimum},
          {"metrics", metrics},
          {"recommendation",
           {{"action", results.recommendation.action}, {"reason", results.recommendation.reason}}}};
}

}  // namespace falaj::abtest
