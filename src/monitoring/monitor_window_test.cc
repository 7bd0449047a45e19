#include "monitoring/monitor_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "monitoring/monitor_report.h"

namespace falaj::monitoring {
namespace {

FeatureReference Reference(std::string name, std::vector<int64_t> histogram, double lo, double hi) {
  FeatureReference reference;
  reference.name = std::move(name);
  reference.edges = {lo, hi, static_cast<int32_t>(histogram.size())};
  reference.counts.push_back(0);
  reference.counts.insert(reference.counts.end(), histogram.begin(), histogram.end());
  reference.counts.push_back(0);
  for (int64_t count : histogram) reference.rows += count;
  reference.stddev = 1.0;
  return reference;
}

serving::PredictionRecord Record(std::vector<std::string> names, std::vector<float> inputs,
                                 std::vector<float> outputs) {
  serving::PredictionRecord record;
  record.project = "p";
  record.endpoint = "e";
  record.feature_names = std::move(names);
  record.rows = outputs.size();
  record.inputs = std::move(inputs);
  record.outputs = std::move(outputs);
  return record;
}

TEST(MonitorWindow, CountsOnTheReferenceBinsByName) {
  FeatureReference a = Reference("a", {1, 1, 1, 1}, 0, 4);  // bins [0,1) [1,2) [2,3) [3,4]
  FeatureReference b = Reference("b", {2, 2}, 0, 2);
  FeatureReference prediction = Reference("prediction", {1, 1}, 0, 1);
  MonitorWindow window({&a, &b}, &prediction, 1000);
  // Columns arrive in another order than watched, with an extra column.
  window.AddPrediction(
      Record({"b", "x", "a"}, {0.5f, 9, 3.5f, 1.5f, 9, -1, 2.f, 9, 4.f}, {0.2f, 0.9f, 0.6f}));
  window.AddPrediction(Record({"a"}, {std::numeric_limits<float>::quiet_NaN()}, {0.1f}));
  EXPECT_EQ(window.rows(), 4);
  const NumericWindowProfile& pa = window.feature_profile(0);
  // 3.5 -> bin 4, -1 -> underflow, 4 -> last bin (closed), NaN -> missing.
  EXPECT_EQ(std::vector<int64_t>(pa.bins().begin(), pa.bins().end()),
            (std::vector<int64_t>{1, 0, 0, 0, 2, 0}));
  EXPECT_EQ(pa.missing(), 1);
  EXPECT_EQ(pa.out_of_range(), 1);
  const NumericWindowProfile& pb = window.feature_profile(1);
  // 0.5 -> bin 1, 1.5 -> bin 2, 2 -> last bin; the record without b counts it missing.
  EXPECT_EQ(std::vector<int64_t>(pb.bins().begin(), pb.bins().end()),
            (std::vector<int64_t>{0, 1, 2, 0}));
  EXPECT_EQ(pb.missing(), 1);
  EXPECT_DOUBLE_EQ(pb.missing_rate(), 0.25);
  ASSERT_NE(window.prediction_profile(), nullptr);
  EXPECT_EQ(window.prediction_profile()->count(), 4);
}

TEST(MonitorWindow, ErrorsAndMalformedRecordsAreSkipped) {
  FeatureReference a = Reference("a", {1, 1}, 0, 2);
  MonitorWindow window({&a}, nullptr, 0);
  auto failed = Record({"a"}, {1}, {});
  failed.rows = 1;
  failed.error = "boom";
  window.AddPrediction(failed);
  auto short_inputs = Record({"a"}, {}, {0.5f});
  window.AddPrediction(short_inputs);
  EXPECT_EQ(window.rows(), 0);
  EXPECT_EQ(window.feature_profile(0).count(), 0);
}

TEST(MonitorWindow, ShiftedWindowDriftsAndSameDoesNot) {
  // A 2000-row reference: the default statistic is the normed Wasserstein on bin midpoints.
  FeatureReference a = Reference("a", {100, 200, 300, 400, 400, 300, 200, 100}, 0, 8);
  a.stddev = 1.0;
  MonitorWindow same({&a}, nullptr, 0);
  MonitorWindow shifted({&a}, nullptr, 0);
  const std::vector<int64_t> counts = {100, 200, 300, 400, 400, 300, 200, 100};
  for (size_t bin = 0; bin < counts.size(); ++bin) {
    for (int64_t i = 0; i < counts[bin] / 10; ++i) {
      double value = static_cast<double>(bin) + 0.5;
      same.AddRow(std::span<const double>(&value, 1));
      double moved = value + 1.0;
      shifted.AddRow(std::span<const double>(&moved, 1));
    }
  }
  auto unchanged = BinnedDrift(a, same.feature_profile(0).bins(), std::nullopt);
  ASSERT_TRUE(unchanged.has_value());
  EXPECT_EQ(unchanged->test, DriftTest::kWasserstein);
  EXPECT_NEAR(unchanged->statistic, 0.0, 1e-12);
  EXPECT_FALSE(unchanged->drifted);
  auto moved = BinnedDrift(a, shifted.feature_profile(0).bins(), std::nullopt);
  ASSERT_TRUE(moved.has_value());
  // Every value moved one bin (width 1) right, the last bin's into the overflow bin whose
  // midpoint is one width past the last: W1 = 1 exactly.
  EXPECT_NEAR(moved->statistic, 1.0, 1e-12);
  EXPECT_TRUE(moved->drifted);
  auto psi =
      BinnedDrift(a, shifted.feature_profile(0).bins(), StatisticChoice{DriftTest::kPsi, 0.1});
  ASSERT_TRUE(psi.has_value());
  auto expected = PsiFromCounts(a.counts, shifted.feature_profile(0).bins());
  EXPECT_DOUBLE_EQ(psi->statistic, *expected);
}

TEST(MonitorWindow, EmptyWindowIsAnErrorNamingTheFeature) {
  FeatureReference a = Reference("age", {1, 1}, 0, 2);
  MonitorWindow window({&a}, nullptr, 0);
  auto drift = BinnedDrift(a, window.feature_profile(0).bins(), std::nullopt);
  ASSERT_FALSE(drift.has_value());
  EXPECT_NE(drift.error().message.find("age"), std::string::npos);
}

}  // namespace
}  // namespace falaj::monitoring

namespace falaj::monitoring {
namespace {

TEST(MonitorReport, FewOccupiedBinsUseChiSquareAndANewBinIsInfiniteDrift) {
  // 150 reference rows in 3 of 4 bins: n_ref <= 1000 and 3-5 occupied bins -> chi-square.
  FeatureReference a;
  a.name = "a";
  a.edges = {0, 4, 4};
  a.counts = {0, 50, 50, 50, 0, 0};
  a.rows = 150;
  a.stddev = 1;
  MonitorWindow same({&a}, nullptr, 0);
  MonitorWindow novel({&a}, nullptr, 0);
  for (double value : {0.5, 1.5, 2.5, 0.5, 1.5, 2.5}) {
    same.AddRow(std::span<const double>(&value, 1));
    double moved = value + 1;  // 3.5 lands in the bin the reference never saw
    novel.AddRow(std::span<const double>(&moved, 1));
  }
  auto unchanged = BinnedDrift(a, same.feature_profile(0).bins(), std::nullopt);
  ASSERT_TRUE(unchanged.has_value());
  EXPECT_EQ(unchanged->test, DriftTest::kChiSquare);
  EXPECT_FALSE(unchanged->drifted);
  auto drift = BinnedDrift(a, novel.feature_profile(0).bins(), std::nullopt);
  ASSERT_TRUE(drift.has_value());
  EXPECT_TRUE(std::isinf(drift->statistic));
  EXPECT_EQ(*drift->p_value, 0.0);
  EXPECT_TRUE(drift->drifted);

  // The report carries it (JSON null once written) and publishes the share.
  MonitorDefinition definition;
  definition.record.spec.name = "m";
  definition.record.reference = {{"source", {{"kind", "dataset"}}}};
  definition.watched = {&a};
  nlohmann::json report = ComposeReport(definition, novel, 1000);
  EXPECT_EQ(report["drifted_features"], nlohmann::json::array({"a"}));
  EXPECT_EQ(nlohmann::json::parse(report.dump())["features"]["a"]["score"], nullptr);
  auto values = ReportValues("m", report);
  EXPECT_NE(std::find(values.begin(), values.end(),
                      std::pair<std::string, double>{"monitor.m.drift_share", 1.0}),
            values.end());
}

}  // namespace
}  // namespace falaj::monitoring
