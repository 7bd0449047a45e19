// An A/B test's results against scipy: the aggregates the store keeps (counts, sums, sums of
// squares) go through ComputeResults, and tests/reference/abtest_results_reference.py computes
// the same numbers from the raw outcomes with scipy at test time. Agreement to 1e-9 relative.
#include "abtest/ab_test_results.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

namespace falaj::abtest {
namespace {

namespace fs = std::filesystem;

::testing::AssertionResult Close(double actual, double expected, double scale = 0) {
  const double denominator = std::fmax(std::fabs(expected), scale);
  if (std::fabs(actual - expected) <= 1e-9 * denominator) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "actual " << actual << " expected " << expected;
}

AbTest Definition() {
  AbTest test;
  test.project = "p";
  test.name = "t";
  test.endpoint = "e";
  test.control = "a";
  test.treatment = "b";
  test.metrics = {{"clicked", MetricKind::kConversion, MetricRole::kPrimary, true, 0},
                  {"revenue", MetricKind::kNumeric, MetricRole::kGuardrail, true, 0.5}};
  test.minimum_detectable_effect = 0.2;
  test.alpha = 0.05;
  test.power = 0.8;
  test.tuning_units = 5000;
  test.control_weight = 40;
  test.treatment_weight = 60;
  return test;
}

// Numeric outcomes summed as the store sums them, and written out for scipy.
MetricTally Sum(const std::vector<double>& values, const fs::path& file) {
  std::ofstream out(file);
  out.precision(17);
  MetricTally tally;
  for (double value : values) {
    out << value << "\n";
    ++tally.n;
    tally.sum += value;
    tally.sum_squares += value * value;
  }
  return tally;
}

std::map<std::string, double> Reference(const std::vector<std::string>& arguments) {
  std::string command = std::string(FALAJ_TEST_PYTHON) + " " + FALAJ_SOURCE_DIR +
                        "/tests/reference/abtest_results_reference.py";
  for (const auto& argument : arguments) command += " " + argument;
  std::map<std::string, double> values;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return values;
  char line[256];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    std::istringstream words(line);
    std::string key;
    double value = 0;
    if (words >> key >> value) values[key] = value;
  }
  ::pclose(pipe);
  return values;
}

// One metric's fixed-horizon test, relative lift and confidence sequence against the reference
// values named "<prefix>", "<prefix>_p", "<prefix>_lower" … (interval ends judged relative to
// the half-width, relative lifts to 1).
void ExpectScipy(const MetricResult& metric, std::map<std::string, double>& expected,
                 const std::string& prefix) {
  ASSERT_TRUE(metric.fixed && metric.sequential) << metric.unavailable;
  const TestResult& fixed = *metric.fixed;
  const double half = fixed.absolute.ci.upper - fixed.absolute.value;
  const std::string key = prefix == "z" ? "z" : prefix + "_t";
  EXPECT_TRUE(Close(fixed.statistic, expected[key])) << prefix;
  EXPECT_TRUE(Close(fixed.p_value, expected[prefix + "_p"])) << prefix;
  EXPECT_TRUE(Close(fixed.absolute.ci.lower, expected[prefix + "_lower"], half)) << prefix;
  EXPECT_TRUE(Close(fixed.absolute.ci.upper, expected[prefix + "_upper"], half)) << prefix;
  ASSERT_TRUE(fixed.relative) << prefix;
  EXPECT_TRUE(Close(fixed.relative->value, expected[prefix + "_relative"])) << prefix;
  EXPECT_TRUE(Close(fixed.relative->ci.lower, expected[prefix + "_relative_lower"], 1)) << prefix;
  EXPECT_TRUE(Close(fixed.relative->ci.upper, expected[prefix + "_relative_upper"], 1)) << prefix;
  const Interval& sequence = metric.sequential->absolute.ci;
  EXPECT_TRUE(Close(sequence.lower, expected[prefix + "_cs_lower"], half)) << prefix;
  EXPECT_TRUE(Close(sequence.upper, expected[prefix + "_cs_upper"], half)) << prefix;
}

TEST(AbTestResults, EqualScipyOnTheSameOutcomes) {
  const fs::path directory =
      fs::temp_directory_path() / ("falaj_abtest_results_" + std::to_string(::getpid()));
  fs::create_directories(directory);
  std::mt19937_64 random(7);
  std::normal_distribution<double> control_revenue(20, 6);
  std::normal_distribution<double> treatment_revenue(21.5, 7);
  std::vector<double> a_values(1800), b_values(2600);
  for (double& value : a_values) value = control_revenue(random);
  for (double& value : b_values) value = treatment_revenue(random);

  const AbTest test = Definition();
  Tally tally;
  tally["a"] = {2000, 2400, {{"clicked", {2000, 0, 0, 210}}}};
  tally["b"] = {3100, 3300, {{"clicked", {3100, 0, 0, 390}}}};
  tally["a"].metrics["revenue"] = Sum(a_values, directory / "a.txt");
  tally["b"].metrics["revenue"] = Sum(b_values, directory / "b.txt");
  const Results results = ComputeResults(test, tally);

  auto expected = Reference({(directory / "a.txt").string(), (directory / "b.txt").string(), "2000",
                             "210", "3100", "390", "40", "60", "0.05", "0.8", "0.2", "5000"});
  fs::remove_all(directory);
  ASSERT_FALSE(expected.empty()) << "did " << FALAJ_TEST_PYTHON << " run the reference script?";

  ASSERT_EQ(results.metrics.size(), 2u);
  ExpectScipy(results.metrics[0], expected, "z");
  ExpectScipy(results.metrics[1], expected, "welch");
  ASSERT_TRUE(results.metrics[1].fixed);
  EXPECT_TRUE(Close(results.metrics[1].control.mean, expected["welch_mean_a"]));
  EXPECT_TRUE(Close(results.metrics[1].treatment.mean, expected["welch_mean_b"]));
  EXPECT_TRUE(Close(results.metrics[1].fixed->degrees_of_freedom, expected["welch_df"]));
  ASSERT_TRUE(results.srm);
  EXPECT_TRUE(Close(results.srm->chi_square, expected["srm_chi2"]));
  EXPECT_TRUE(Close(results.srm->p_value, expected["srm_p"]));
  ASSERT_TRUE(results.minimum_sample) << results.minimum_sample_unavailable;
  EXPECT_TRUE(Close(results.minimum_sample->exact, expected["min_sample_exact"]));
  EXPECT_EQ(results.minimum_sample->units_per_arm,
            static_cast<int64_t>(std::ceil(expected["min_sample_exact"])));
}

TEST(AbTestResults, EmptyArmsGiveNoStatisticsAndContinue) {
  const Results results = ComputeResults(Definition(), {});
  EXPECT_FALSE(results.srm);
  EXPECT_FALSE(results.metrics[0].fixed);
  EXPECT_FALSE(results.metrics[0].unavailable.empty());
  EXPECT_FALSE(results.minimum_sample);
  EXPECT_EQ(results.recommendation.action, "continue");
  nlohmann::json json = ResultsToJson(Definition(), results);
  EXPECT_TRUE(json["srm"]["p_value"].is_null());
  EXPECT_EQ(json["recommendation"]["action"], "continue");
}

TEST(AbTestResults, AMetricWhereLowerIsBetterIsJudgedTheOtherWay) {
  AbTest test = Definition();
  test.metrics = {{"errors", MetricKind::kConversion, MetricRole::kPrimary, false, 0}};
  Tally tally;
  tally["a"] = {4000, 4000, {{"errors", {4000, 0, 0, 400}}}};
  tally["b"] = {6000, 6000, {{"errors", {6000, 0, 0, 300}}}};
  const Results results = ComputeResults(test, tally);
  EXPECT_TRUE(results.metrics[0].favours_treatment);
  EXPECT_FALSE(results.metrics[0].against_treatment);
  EXPECT_EQ(results.recommendation.action, "promote") << results.recommendation.reason;
}

}  // namespace
}  // namespace falaj::abtest
