// XGBoostTrialRunner against FitXGBoost itself: the same configuration fitted directly gives the
// same per-round history the runner reports, stopping through report ends the fit at once, the
// trial's parameters override the spec's, and bad parameters name the field.
#include "training/xgboost_trial_runner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace falaj::training {
namespace {

DataSplit MakeSplit(size_t rows, std::mt19937& rng) {
  std::normal_distribution<float> normal;
  DataSplit split;
  split.rows = rows;
  split.columns = 3;
  for (size_t i = 0; i < rows; ++i) {
    const float a = normal(rng), b = normal(rng), c = normal(rng);
    split.features.insert(split.features.end(), {a, b, c});
    split.labels.push_back(a + 0.5f * b * b - c + 0.3f * normal(rng) > 0.5f ? 1.0f : 0.0f);
    split.source_rows.push_back(static_cast<int64_t>(i));
  }
  return split;
}

PreparedTraining MakePrepared(const nlohmann::json& params) {
  nlohmann::json spec = {{"data", {{"dataset", "d"}}}, {"label", "y"},
                         {"trainer", "xgboost"},       {"objective", "binary:logistic"},
                         {"params", params},           {"num_boost_round", 30}};
  auto parsed = ParseTrainingSpec(spec);
  EXPECT_TRUE(parsed) << parsed.error().message;
  PreparedTraining prepared;
  prepared.spec = *parsed;
  std::mt19937 rng(7);
  prepared.data.task = Task::kBinary;
  prepared.data.feature_names = {"a", "b", "c"};
  prepared.data.train = MakeSplit(400, rng);
  prepared.data.validation = MakeSplit(150, rng);
  prepared.data.test = MakeSplit(100, rng);
  return prepared;
}

TEST(XGBoostTrialRunnerTest, ReportsFitXGBoostsHistoryAndReturnsTheKeptValue) {
  const PreparedTraining prepared = MakePrepared({{"max_depth", 2}, {"eta", 0.3}});
  XGBoostTrialRunner runner(prepared, 2, 4);
  EXPECT_EQ(runner.nthread(), 2);
  EXPECT_EQ(runner.MetricName(), "logloss");
  EXPECT_FALSE(runner.HigherIsBetter());
  NullTaskContext context;
  std::vector<std::pair<int, double>> reported;
  const nlohmann::json trial = {{"eta", 0.2}, {"max_depth", 4}};
  auto value = runner.RunTrial(
      trial, 12,
      [&](int step, double metric) {
        reported.emplace_back(step, metric);
        return true;
      },
      context);
  ASSERT_TRUE(value) << value.error().message;

  // The reference: FitXGBoost directly with the merged parameters and 12 rounds.
  XGBoostConfig config = XGBoostConfigOf(prepared.spec);
  config.params["eta"] = "0.2";
  config.params["max_depth"] = "4";
  config.num_boost_round = 12;
  config.nthread = 2;
  auto fit = FitXGBoost(prepared.data, config);
  ASSERT_TRUE(fit) << fit.error().message;
  ASSERT_EQ(reported.size(), 12u);
  ASSERT_EQ(fit->validation_history.size(), 12u);
  for (size_t i = 0; i < reported.size(); ++i) {
    EXPECT_EQ(reported[i].first, static_cast<int>(i) + 1);
    EXPECT_DOUBLE_EQ(reported[i].second, fit->validation_history[i]) << "round " << i;
  }
  EXPECT_DOUBLE_EQ(*value, fit->best_validation_metric);
  // A different configuration gives a different curve: the trial's params really apply.
  auto spec_only = FitXGBoost(prepared.data, [&] {
    XGBoostConfig c = XGBoostConfigOf(prepared.spec);
    c.num_boost_round = 12;
    c.nthread = 2;
    return c;
  }());
  ASSERT_TRUE(spec_only);
  EXPECT_NE(spec_only->validation_history.back(), fit->validation_history.back());
}

TEST(XGBoostTrialRunnerTest, StoppingThroughReportEndsTheFitAtOnce) {
  const PreparedTraining prepared = MakePrepared({{"max_depth", 3}});
  XGBoostTrialRunner runner(prepared, 1, 2);
  NullTaskContext context;
  std::vector<double> reported;
  auto value = runner.RunTrial(
      nlohmann::json::object(), 50,
      [&](int step, double metric) {
        reported.push_back(metric);
        return step < 5;
      },
      context);
  ASSERT_TRUE(value) << value.error().message;
  ASSERT_EQ(reported.size(), 5u);  // no round after the one that said stop
  EXPECT_DOUBLE_EQ(*value, reported.back());

  XGBoostConfig config = XGBoostConfigOf(prepared.spec);
  config.num_boost_round = 5;
  config.nthread = 2;
  auto fit = FitXGBoost(prepared.data, config);
  ASSERT_TRUE(fit);
  EXPECT_DOUBLE_EQ(*value, fit->validation_history[4]);
}

TEST(XGBoostTrialRunnerTest, CancellationAndBadParameters) {
  const PreparedTraining prepared = MakePrepared(nlohmann::json::object());
  XGBoostTrialRunner runner(prepared, 1, 1);
  NullTaskContext context;
  auto bad = runner.RunTrial(
      {{"max_depth", -3}}, 5, [](int, double) { return true; }, context);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().message.find("params.max_depth"), std::string::npos) << bad.error().message;

  int steps = 0;
  auto cancelled = runner.RunTrial(
      nlohmann::json::object(), 50,
      [&](int, double) {
        if (++steps == 3) context.Cancel();
        return !context.CancelRequested();
      },
      context);
  ASSERT_FALSE(cancelled);
  EXPECT_EQ(cancelled.error().code, ErrorCode::kCancelled);
  EXPECT_EQ(steps, 3);
}

TEST(XGBoostTrialRunnerTest, MergeParamsLetsTheTrialWin) {
  const nlohmann::json train = {{"trainer", "xgboost"}, {"params", {{"eta", 0.1}, {"seed", 3}}}};
  const nlohmann::json merged = MergeParams(train, {{"eta", 0.05}, {"max_depth", 4}});
  EXPECT_EQ(merged["params"], (nlohmann::json{{"eta", 0.05}, {"seed", 3}, {"max_depth", 4}}));
  EXPECT_EQ(MergeParams({{"trainer", "xgboost"}}, {{"eta", 0.2}})["params"],
            (nlohmann::json{{"eta", 0.2}}));
}

}  // namespace
}  // namespace falaj::training
