// Metrics against brute-force references written independently here.
#include "training/evaluation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace falaj::training {
namespace {

// AUC by counting every (positive, negative) pair; ties count 1/2.
double PairwiseAuc(const std::vector<float>& scores, const std::vector<float>& labels) {
  double wins = 0, pairs = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    for (size_t j = 0; j < scores.size(); ++j) {
      if (labels[i] == 1 && labels[j] == 0) {
        pairs += 1;
        wins += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
      }
    }
  }
  return wins / pairs;
}

TEST(EvaluationTest, AucEqualsPairwiseCountingWithTies) {
  std::mt19937 random(3);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<float> scores, labels;
    for (int i = 0; i < 200; ++i) {
      // Scores on a coarse grid so that many tie.
      scores.push_back(static_cast<float>(random() % 13) / 12.0f);
      labels.push_back(static_cast<float>(random() % 3 == 0));
    }
    EXPECT_NEAR(Auc(scores, labels), PairwiseAuc(scores, labels), 1e-12);
  }
  EXPECT_TRUE(std::isnan(Auc({0.1f, 0.2f}, {1, 1})));
}

TEST(EvaluationTest, LogLossFollowsTheFormula) {
  const std::vector<float> p = {0.9f, 0.2f, 0.5f, 0.0f, 1.0f};
  const std::vector<float> y = {1, 0, 1, 0, 0};
  double expected = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const double q = std::min(std::max<double>(p[i], 1e-15), 1 - 1e-15);
    expected += -(y[i] * std::log(q) + (1 - y[i]) * std::log(1 - q));
  }
  EXPECT_NEAR(LogLoss(p, y), expected / 5, 1e-12);
  // Multiclass: −mean log p_label.
  const std::vector<float> probs = {0.7f, 0.2f, 0.1f, 0.1f, 0.3f, 0.6f};
  EXPECT_NEAR(MultiLogLoss(probs, {0, 1}, 3), -(std::log(0.7f) + std::log(0.3f)) / 2, 1e-7);
}

TEST(EvaluationTest, NdcgMatchesAHandComputedExample) {
  // Group 1: relevances 3, 2, 0 scored so the order is 0, 3, 2 (by relevance).
  // Group 2: all zero relevance → 1 by convention.
  const std::vector<float> scores = {0.1f, 0.9f, 0.5f, 0.3f, 0.2f};
  const std::vector<float> labels = {0, 3, 2, 0, 0};
  const double dcg = 7 / std::log2(2.0) + 3 / std::log2(3.0) + 0;
  const double idcg = 7 / std::log2(2.0) + 3 / std::log2(3.0) + 0;
  EXPECT_NEAR(NdcgAt(scores, labels, {3, 2}, 10), (dcg / idcg + 1) / 2, 1e-12);
  const std::vector<float> swapped = {0.1f, 0.5f, 0.9f, 0.3f, 0.2f};
  const double dcg2 = 3 / std::log2(2.0) + 7 / std::log2(3.0);
  EXPECT_NEAR(NdcgAt(swapped, labels, {3}, 2), dcg2 / idcg, 1e-12);
  EXPECT_NEAR(NdcgAt(swapped, labels, {3}, 1), 3.0 / 7.0, 1e-12);
}

TEST(EvaluationTest, ClassificationMetricsAndCalibrationCountRows) {
  DataSplit test;
  test.rows = 8;
  test.labels = {1, 1, 1, 0, 0, 0, 0, 1};
  const std::vector<float> p = {0.95f, 0.6f, 0.3f, 0.7f, 0.1f, 0.05f, 0.45f, 1.0f};
  auto report = Evaluate(Task::kBinary, 0, test, p, DefaultMetrics(Task::kBinary));
  // Predicted 1 for rows 0, 1, 3, 7: tp = 3, fp = 1, fn = 1 (row 2).
  EXPECT_DOUBLE_EQ(report["metrics"]["precision"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(report["metrics"]["recall"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(report["metrics"]["f1"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(report["metrics"]["accuracy"].get<double>(), 6.0 / 8);
  EXPECT_NEAR(report["metrics"]["auc"].get<double>(), PairwiseAuc(p, test.labels), 1e-12);
  const auto& calibration = report["calibration"];
  ASSERT_EQ(calibration.size(), 10u);
  int64_t total = 0;
  for (const auto& bin : calibration) total += bin["count"].get<int64_t>();
  EXPECT_EQ(total, 8);
  EXPECT_EQ(calibration[9]["count"], 2);  // 0.95 and the closed right edge 1.0
  EXPECT_DOUBLE_EQ(calibration[9]["observed_rate"].get<double>(), 1.0);
  EXPECT_NEAR(calibration[9]["mean_predicted"].get<double>(), (0.95 + 1.0) / 2, 1e-7);
  EXPECT_EQ(calibration[0]["count"], 1);  // 0.05; 0.1f is just above 0.1, so bin 1
  EXPECT_EQ(calibration[1]["count"], 1);
}

TEST(EvaluationTest, RegressionMetrics) {
  DataSplit test;
  test.rows = 4;
  test.labels = {1, 2, 3, 4};
  auto report = Evaluate(Task::kRegression, 0, test, {1.5f, 2, 2, 5}, {"rmse", "mae", "r2"});
  EXPECT_NEAR(report["metrics"]["rmse"].get<double>(), std::sqrt((0.25 + 0 + 1 + 1) / 4), 1e-9);
  EXPECT_NEAR(report["metrics"]["mae"].get<double>(), 2.5 / 4, 1e-9);
  EXPECT_NEAR(report["metrics"]["r2"].get<double>(), 1 - 2.25 / 5, 1e-9);
}

TEST(EvaluationTest, MetricDirections) {
  for (const char* higher : {"auc", "aucpr", "ndcg", "ndcg@5", "map", "map@10", "f1", "r2"}) {
    EXPECT_TRUE(HigherIsBetter(higher)) << higher;
  }
  for (const char* lower : {"logloss", "mlogloss", "rmse", "mae", "mape", "error", "merror"}) {
    EXPECT_FALSE(HigherIsBetter(lower)) << lower;
  }
}

TEST(EvaluationTest, MetricNamesAreCheckedPerTask) {
  EXPECT_TRUE(ValidateMetrics(Task::kRanking, {"ndcg@3", "ndcg"}));
  auto bad = ValidateMetrics(Task::kRegression, {"rmse", "auc"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("metrics[1]"), std::string::npos);
  EXPECT_FALSE(ValidateMetrics(Task::kRanking, {"ndcg@0"}));
}

}  // namespace
}  // namespace falaj::training
