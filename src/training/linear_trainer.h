// Linear baselines: ridge regression (closed form, Cholesky) and L2-regularised logistic
// regression (Newton's method / IRLS), both fitted on standardised features and returned on the
// original scale in the serving `linear` runtime's format:
//   {"kind": "linear" | "logistic", "coefficients": [...], "intercept": b}
//
// Objectives (n rows, z = standardised features, w on the standardised scale, b unpenalised):
//   ridge:    (1/2n) Σ (y − b − w·z)² + (l2/2) ‖w‖²
//   logistic: (1/n) Σ logloss(y, σ(b + w·z)) + (l2/2) ‖w‖²
// Features that are constant in the training split get coefficient 0. Missing (NaN) features are
// refused: the linear runtime cannot predict them. Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "common/result.h"
#include "training/trainer.h"

namespace falaj::training {

struct LinearModel {
  bool logistic = false;
  std::vector<double> coefficients;  // on the original feature scale
  double intercept = 0;
  int iterations = 0;  // Newton steps (logistic); 0 for the closed form

  nlohmann::json ToJson() const;
  // Predictions: w·x + b, or σ(w·x + b) for logistic.
  std::vector<float> Predict(const DataSplit& split) const;
};

// INVALID_ARGUMENT for l2 < 0, NaN features, or (with l2 = 0) collinear features.
Result<LinearModel> FitRidge(const DataSplit& train, double l2);
// `on_iteration(step, loss)` after each Newton step; returning false stops with kCancelled.
Result<LinearModel> FitLogistic(const DataSplit& train, double l2,
                                const IterationCallback& on_iteration = {});

}  // namespace falaj::training
