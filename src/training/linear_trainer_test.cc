// Ridge against the normal equations solved by Gaussian elimination; logistic regression's
// gradient at its solution.
#include "training/linear_trainer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

namespace falaj::training {
namespace {

DataSplit RandomData(size_t rows, size_t columns, bool binary, uint32_t seed) {
  std::mt19937 random(seed);
  std::normal_distribution<float> normal(0, 1);
  DataSplit split;
  split.rows = rows;
  split.columns = columns;
  for (size_t r = 0; r < rows; ++r) {
    double t = 0.3;
    for (size_t c = 0; c < columns; ++c) {
      const float x = normal(random) * static_cast<float>(c + 1) + static_cast<float>(c);
      split.features.push_back(x);
      t += (c % 2 ? -0.4 : 0.7) * x / static_cast<double>(c + 1);
    }
    const double noise = normal(random);
    split.labels.push_back(binary ? (t + noise > 0.5 ? 1.0f : 0.0f)
                                  : static_cast<float>(t + 0.1 * noise));
  }
  return split;
}

// Solves (XᵀX) β = Xᵀy for X = [1, features] with partial-pivot Gaussian elimination.
std::vector<double> NormalEquations(const DataSplit& data) {
  const size_t k = data.columns + 1;
  std::vector<std::vector<double>> m(k, std::vector<double>(k + 1, 0));
  for (size_t r = 0; r < data.rows; ++r) {
    std::vector<double> x = {1.0};
    for (size_t c = 0; c < data.columns; ++c) x.push_back(data.features[r * data.columns + c]);
    for (size_t i = 0; i < k; ++i) {
      for (size_t j = 0; j < k; ++j) m[i][j] += x[i] * x[j];
      m[i][k] += x[i] * data.labels[r];
    }
  }
  for (size_t col = 0; col < k; ++col) {
    size_t pivot = col;
    for (size_t r = col + 1; r < k; ++r) {
      if (std::fabs(m[r][col]) > std::fabs(m[pivot][col])) pivot = r;
    }
    std::swap(m[col], m[pivot]);
    for (size_t r = 0; r < k; ++r) {
      if (r == col) continue;
      const double factor = m[r][col] / m[col][col];
      for (size_t c = col; c <= k; ++c) m[r][c] -= factor * m[col][c];
    }
  }
  std::vector<double> beta(k);
  for (size_t i = 0; i < k; ++i) beta[i] = m[i][k] / m[i][i];
  return beta;
}

TEST(LinearTrainerTest, RidgeWithoutPenaltyEqualsTheNormalEquations) {
  const DataSplit data = RandomData(400, 5, false, 1);
  auto model = FitRidge(data, 0.0);
  ASSERT_TRUE(model) << model.error().message;
  const auto beta = NormalEquations(data);
  EXPECT_NEAR(model->intercept, beta[0], 1e-8);
  for (size_t c = 0; c < data.columns; ++c) {
    EXPECT_NEAR(model->coefficients[c], beta[c + 1], 1e-8) << c;
  }
  EXPECT_EQ(model->ToJson()["kind"], "linear");
}

TEST(LinearTrainerTest, RidgeRefusesCollinearFeaturesWithoutPenaltyAndHandlesConstants) {
  DataSplit data = RandomData(100, 2, false, 2);
  for (size_t r = 0; r < data.rows; ++r) data.features[r * 2 + 1] = 2 * data.features[r * 2];
  EXPECT_FALSE(FitRidge(data, 0.0));
  EXPECT_TRUE(FitRidge(data, 0.1));
  for (size_t r = 0; r < data.rows; ++r) data.features[r * 2 + 1] = 7;
  auto model = FitRidge(data, 0.0);
  ASSERT_TRUE(model) << model.error().message;
  EXPECT_EQ(model->coefficients[1], 0.0);
}

TEST(LinearTrainerTest, LogisticGradientIsZeroAtTheSolution) {
  const DataSplit data = RandomData(500, 4, true, 3);
  const double l2 = 0.01;
  auto model = FitLogistic(data, l2);
  ASSERT_TRUE(model) << model.error().message;
  // The objective lives on standardised features: recompute them here.
  const size_t k = data.columns;
  std::vector<double> mean(k, 0), sd(k, 0);
  for (size_t r = 0; r < data.rows; ++r) {
    for (size_t c = 0; c < k; ++c) mean[c] += data.features[r * k + c] / double(data.rows);
  }
  for (size_t r = 0; r < data.rows; ++r) {
    for (size_t c = 0; c < k; ++c) {
      sd[c] += std::pow(data.features[r * k + c] - mean[c], 2) / double(data.rows);
    }
  }
  for (double& s : sd) s = std::sqrt(s);
  // Standardised weights: w_std = w_raw sd; the linear predictor is unchanged.
  std::vector<double> gradient(k + 1, 0);
  for (size_t r = 0; r < data.rows; ++r) {
    double t = model->intercept;
    for (size_t c = 0; c < k; ++c) t += model->coefficients[c] * data.features[r * k + c];
    const double residual = 1 / (1 + std::exp(-t)) - data.labels[r];
    gradient[0] += residual / double(data.rows);
    for (size_t c = 0; c < k; ++c) {
      gradient[c + 1] +=
          residual * (data.features[r * k + c] - mean[c]) / sd[c] / double(data.rows);
    }
  }
  for (size_t c = 0; c < k; ++c) gradient[c + 1] += l2 * model->coefficients[c] * sd[c];
  for (double g : gradient) EXPECT_NEAR(g, 0.0, 1e-9);
  // And the fit is informative: predictions follow the labels.
  const auto p = model->Predict(data);
  double agree = 0;
  for (size_t r = 0; r < data.rows; ++r) agree += (p[r] >= 0.5f) == (data.labels[r] == 1);
  EXPECT_GT(agree / double(data.rows), 0.7);
}

TEST(LinearTrainerTest, MissingValuesAreRefusedNamingTheFeature) {
  DataSplit data = RandomData(50, 3, false, 4);
  data.features[10 * 3 + 2] = std::nanf("");
  auto model = FitRidge(data, 0.0);
  ASSERT_FALSE(model);
  EXPECT_NE(model.error().message.find("feature 2"), std::string::npos);
}

}  // namespace
}  // namespace falaj::training
