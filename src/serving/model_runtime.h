// Runtimes turn a registered model version's artifact into something that predicts. A loaded
// model is immutable and its Predict may run concurrently from many threads.
//
// Runtimes:
//   "linear"  — linear or logistic regression from a small JSON format (baselines, tests);
//   "xgboost" — XGBoost's own library through its C API (in-place predict, no DMatrix);
//   "trees"   — our compiled tree-ensemble predictor, read from the same XGBoost model.
// Registry format "xgboost" is served by "trees" unless the version asks otherwise; what "trees"
// cannot serve exactly it refuses (UNIMPLEMENTED), and the "auto" choice then falls back to the
// library — never a wrong prediction. Formats no runtime serves are refused with UNIMPLEMENTED.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj::serving {

class LoadedModel {
 public:
  virtual ~LoadedModel() = default;
  // Number of input features per row.
  virtual size_t num_features() const = 0;
  // Values produced per row: 1 for regression, binary classification and class-index outputs;
  // k for k-class probabilities or margins.
  virtual size_t num_outputs() const = 0;
  // True when NaN means "missing" (tree models route it down each split's default branch);
  // false when non-finite features are refused with INVALID_ARGUMENT.
  virtual bool accepts_missing() const = 0;
  // The runtime's name ("linear", "xgboost", "trees"), shown in model metadata and metrics.
  virtual std::string_view runtime() const = 0;
  // Predicts `rows` rows stored row-major in `features` (rows × num_features()) into `outputs`
  // (rows × num_outputs()). INVALID_ARGUMENT for wrong sizes or a forbidden non-finite value.
  virtual Status Predict(std::span<const float> features, size_t rows,
                         std::span<float> outputs) const = 0;
};

// The linear format:
//   {"kind": "linear" | "logistic", "coefficients": [w1, …, wn], "intercept": b}
// Logistic models return the probability 1 / (1 + exp(-(w·x + b))).
Result<std::unique_ptr<LoadedModel>> LoadLinearModel(std::string_view json_text);

// XGBoost models (JSON or UBJ, as saved by XGBoost 1.7 – 3.x), by the library's C API.
Result<std::unique_ptr<LoadedModel>> LoadXGBoostModel(std::string_view artifact);

// XGBoost models compiled into our flattened tree predictor. UNIMPLEMENTED for model features
// it does not reproduce exactly (e.g. vector-leaf multi-output trees).
Result<std::unique_ptr<LoadedModel>> LoadTreesModel(std::string_view artifact);

// Builds a model of registry format `format` from its artifact bytes with runtime `runtime`
// ("" or "auto" picks the format's default as described above).
Result<std::unique_ptr<LoadedModel>> LoadModel(std::string_view format, std::string_view runtime,
                                               std::string_view artifact);

}  // namespace falaj::serving
