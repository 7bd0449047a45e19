#include "training/linear_trainer.h"

#include <cmath>

namespace falaj::training {
namespace {

// Column means and population standard deviations of the training features.
struct Scaling {
  std::vector<double> mean, sd;
};

Result<Scaling> Standardisation(const DataSplit& train) {
  Scaling scaling{std::vector<double>(train.columns, 0), std::vector<double>(train.columns, 0)};
  const double n = static_cast<double>(train.rows);
  for (size_t r = 0; r < train.rows; ++r) {
    for (size_t c = 0; c < train.columns; ++c) {
      const float x = train.features[r * train.columns + c];
      if (!std::isfinite(x)) {
        return MakeError(
            ErrorCode::kInvalidArgument,
            "feature {} has missing or infinite values (row {}); linear models "
            "need every value",
            c, train.source_rows.empty() ? static_cast<int64_t>(r) : train.source_rows[r]);
      }
      scaling.mean[c] += x;
    }
  }
  for (double& m : scaling.mean) m /= n;
  for (size_t r = 0; r < train.rows; ++r) {
    for (size_t c = 0; c < train.columns; ++c) {
      const double d = train.features[r * train.columns + c] - scaling.mean[c];
      scaling.sd[c] += d * d;
    }
  }
  for (double& s : scaling.sd) s = std::sqrt(s / n);
  return scaling;
}

// Solves A x = b for symmetric positive definite A (k × k, row-major) by Cholesky; false when A
// is not positive definite.
bool CholeskySolve(std::vector<double> a, std::vector<double>& b, size_t k) {
  for (size_t j = 0; j < k; ++j) {
    double diagonal = a[j * k + j];
    for (size_t p = 0; p < j; ++p) diagonal -= a[j * k + p] * a[j * k + p];
    if (!(diagonal > 1e-300)) return false;
    const double l = std::sqrt(diagonal);
    a[j * k + j] = l;
    for (size_t i = j + 1; i < k; ++i) {
      double sum = a[i * k + j];
      for (size_t p = 0; p < j; ++p) sum -= a[i * k + p] * a[j * k + p];
      a[i * k + j] = sum / l;
    }
  }
  for (size_t i = 0; i < k; ++i) {  // L y = b
    for (size_t p = 0; p < i; ++p) b[i] -= a[i * k + p] * b[p];
    b[i] /= a[i * k + i];
  }
  for (size_t i = k; i-- > 0;) {  // Lᵀ x = y
    for (size_t p = i + 1; p < k; ++p) b[i] -= a[p * k + i] * b[p];
    b[i] /= a[i * k + i];
  }
  return true;
}

double Z(const DataSplit& split, const Scaling& s, size_t r, size_t c) {
  return s.sd[c] > 0 ? (split.features[r * split.columns + c] - s.mean[c]) / s.sd[c] : 0.0;
}

// Back to the original scale: w_j / sd_j, intercept b − Σ w_j mean_j / sd_j.
LinearModel Unscale(bool logistic, const std::vector<double>& w, double b, const Scaling& s) {
  LinearModel model;
  model.logistic = logistic;
  model.intercept = b;
  for (size_t c = 0; c < w.size(); ++c) {
    const double raw = s.sd[c] > 0 ? w[c] / s.sd[c] : 0.0;
    model.coefficients.push_back(raw);
    model.intercept -= raw * s.mean[c];
  }
  return model;
}

double Sigmoid(double t) { return 1.0 / (1.0 + std::exp(-t)); }

}  // namespace

nlohmann::json LinearModel::ToJson() const {
  return {{"kind", logistic ? "logistic" : "linear"},
          {"coefficients", coefficients},
          {"intercept", intercept}};
}

std::vector<float> LinearModel::Predict(const DataSplit& split) const {
  std::vector<float> out(split.rows);
  for (size_t r = 0; r < split.rows; ++r) {
    double sum = intercept;
    for (size_t c = 0; c < split.columns; ++c) {
      sum += coefficients[c] * split.features[r * split.columns + c];
    }
    out[r] = static_cast<float>(logistic ? Sigmoid(sum) : sum);
  }
  return out;
}

Result<LinearModel> FitRidge(const DataSplit& train, double l2) {
  if (!(l2 >= 0)) return MakeError(ErrorCode::kInvalidArgument, "params.l2 must be >= 0");
  FALAJ_ASSIGN_OR_RETURN(auto scaling, Standardisation(train));
  const size_t k = train.columns;
  const double n = static_cast<double>(train.rows);
  double y_mean = 0;
  for (float y : train.labels) y_mean += y;
  y_mean /= n;
  std::vector<double> a(k * k, 0), b(k, 0), z(k);
  for (size_t r = 0; r < train.rows; ++r) {
    for (size_t c = 0; c < k; ++c) z[c] = Z(train, scaling, r, c);
    const double y = train.labels[r] - y_mean;
    for (size_t i = 0; i < k; ++i) {
      b[i] += z[i] * y / n;
      for (size_t j = 0; j <= i; ++j) a[i * k + j] += z[i] * z[j] / n;
    }
  }
  for (size_t i = 0; i < k; ++i) {
    for (size_t j = 0; j < i; ++j) a[j * k + i] = a[i * k + j];
    // A constant column is all zeros: pin its weight to 0 instead of making A singular.
    a[i * k + i] += scaling.sd[i] > 0 ? l2 : 1.0;
  }
  if (!CholeskySolve(std::move(a), b, k)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the features are collinear; set params.l2 > 0 (ridge)");
  }
  return Unscale(false, b, y_mean, scaling);
}

Result<LinearModel> FitLogistic(const DataSplit& train, double l2,
                                const IterationCallback& on_iteration) {
  if (!(l2 >= 0)) return MakeError(ErrorCode::kInvalidArgument, "params.l2 must be >= 0");
  FALAJ_ASSIGN_OR_RETURN(auto scaling, Standardisation(train));
  const size_t k = train.columns + 1;  // intercept first
  const double n = static_cast<double>(train.rows);
  // Standardised rows with a leading 1, computed once.
  std::vector<double> rows(train.rows * k);
  for (size_t r = 0; r < train.rows; ++r) {
    rows[r * k] = 1.0;
    for (size_t c = 0; c + 1 < k; ++c) rows[r * k + c + 1] = Z(train, scaling, r, c);
  }
  auto loss_at = [&](const std::vector<double>& theta) {
    double loss = 0;
    for (size_t r = 0; r < train.rows; ++r) {
      double t = 0;
      for (size_t c = 0; c < k; ++c) t += theta[c] * rows[r * k + c];
      // log(1 + e^t) − y t, computed without overflow.
      loss +=
          (t > 0 ? t + std::log1p(std::exp(-t)) : std::log1p(std::exp(t))) - train.labels[r] * t;
    }
    double penalty = 0;
    for (size_t c = 1; c < k; ++c) penalty += theta[c] * theta[c];
    return loss / n + 0.5 * l2 * penalty;
  };
  std::vector<double> theta(k, 0.0);
  double loss = loss_at(theta);
  LinearModel model;
  for (int step = 0; step < 100; ++step) {
    std::vector<double> gradient(k, 0), hessian(k * k, 0);
    for (size_t r = 0; r < train.rows; ++r) {
      const double* x = &rows[r * k];
      double t = 0;
      for (size_t c = 0; c < k; ++c) t += theta[c] * x[c];
      const double p = Sigmoid(t);
      const double weight = std::max(p * (1 - p), 1e-12) / n;
      for (size_t i = 0; i < k; ++i) {
        gradient[i] += (p - train.labels[r]) * x[i] / n;
        for (size_t j = 0; j <= i; ++j) hessian[i * k + j] += weight * x[i] * x[j];
      }
    }
    double largest = 0;
    for (size_t i = 0; i < k; ++i) {
      if (i > 0) {
        gradient[i] += l2 * theta[i];
        hessian[i * k + i] += l2 > 0 ? l2 : 1e-10;
      }
      for (size_t j = 0; j < i; ++j) hessian[j * k + i] = hessian[i * k + j];
      largest = std::max(largest, std::fabs(gradient[i]));
    }
    if (largest < 1e-12) break;
    std::vector<double> delta = gradient;
    if (!CholeskySolve(hessian, delta, k)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "logistic regression did not converge; set params.l2 > 0");
    }
    // Damped Newton: halve the step until the loss does not increase.
    double scale = 1.0;
    std::vector<double> next(k);
    double next_loss = loss;
    for (int halving = 0; halving < 30; ++halving, scale /= 2) {
      for (size_t c = 0; c < k; ++c) next[c] = theta[c] - scale * delta[c];
      next_loss = loss_at(next);
      if (next_loss <= loss) break;
    }
    if (next_loss > loss) break;
    const double improvement = loss - next_loss;
    theta = next;
    loss = next_loss;
    model.iterations = step + 1;
    if (on_iteration && !on_iteration(step, loss)) {
      return MakeError(ErrorCode::kCancelled, "logistic regression was cancelled");
    }
    if (improvement < 1e-15 * std::max(1.0, loss) && largest < 1e-8) break;
  }
  LinearModel unscaled =
      Unscale(true, std::vector<double>(theta.begin() + 1, theta.end()), theta[0], scaling);
  unscaled.iterations = model.iterations;
  return unscaled;
}

}  // namespace falaj::training
