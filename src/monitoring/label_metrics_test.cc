#include "monitoring/label_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace falaj::monitoring {
namespace {

// AUC by definition: over every (positive, negative) pair, 1 if the positive scores higher,
// 1/2 on a tie.
double BruteForceAuc(const std::vector<double>& scores, const std::vector<double>& labels) {
  double wins = 0;
  double pairs = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    for (size_t j = 0; j < scores.size(); ++j) {
      if (labels[i] != 1.0 || labels[j] != 0.0) continue;
      pairs += 1;
      wins += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
    }
  }
  return wins / pairs;
}

TEST(LabelMetrics, BinaryMatchesBruteForce) {
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> uniform(0, 1);
  LabelAccumulator accumulator;
  std::vector<double> scores;
  std::vector<double> labels;
  for (int i = 0; i < 600; ++i) {
    double label = uniform(random) < 0.3 ? 1.0 : 0.0;
    // Rounded to 2 decimals so ties occur.
    double score = std::round((0.6 * label + 0.7 * uniform(random)) * 100) / 100;
    scores.push_back(score);
    labels.push_back(label);
    accumulator.Add(score, label);
  }
  auto metrics = accumulator.Compute();
  EXPECT_NEAR(metrics.at("auc"), BruteForceAuc(scores, labels), 1e-12);
  double squared = 0, absolute = 0, correct = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    squared += (scores[i] - labels[i]) * (scores[i] - labels[i]);
    absolute += std::abs(scores[i] - labels[i]);
    correct += ((scores[i] >= 0.5) == (labels[i] == 1.0)) ? 1 : 0;
  }
  EXPECT_NEAR(metrics.at("rmse"), std::sqrt(squared / 600), 1e-12);
  EXPECT_NEAR(metrics.at("mae"), absolute / 600, 1e-12);
  EXPECT_NEAR(metrics.at("accuracy"), correct / 600, 1e-12);
  EXPECT_EQ(metrics.at("count"), 600);
}

TEST(LabelMetrics, RegressionHasNoClassMetrics) {
  LabelAccumulator accumulator;
  accumulator.Add(2.5, 3.0);
  accumulator.Add(1.0, 0.0);
  auto metrics = accumulator.Compute();
  EXPECT_FALSE(metrics.contains("auc"));
  EXPECT_FALSE(metrics.contains("accuracy"));
  EXPECT_NEAR(metrics.at("rmse"), std::sqrt((0.25 + 1.0) / 2), 1e-12);
  EXPECT_NEAR(metrics.at("mae"), 0.75, 1e-12);
}

TEST(LabelMetrics, OneClassHasNoAucAndBoundDropsPairs) {
  LabelAccumulator accumulator(2);
  accumulator.Add(0.9, 1.0);
  accumulator.Add(0.8, 1.0);
  accumulator.Add(0.1, 0.0);
  EXPECT_EQ(accumulator.dropped(), 1);
  auto metrics = accumulator.Compute();
  EXPECT_FALSE(metrics.contains("auc"));
  EXPECT_EQ(metrics.at("accuracy"), 1.0);
  EXPECT_TRUE(LabelAccumulator().Compute().empty());
}

}  // namespace
}  // namespace falaj::monitoring
