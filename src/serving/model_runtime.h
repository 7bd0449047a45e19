// Runtimes turn a registered model version's artifact into something that predicts. A loaded
// model is immutable and its Predict may run concurrently from many threads.
//
// Runtimes today: "linear" (linear or logistic regression from a small JSON format, for
// baselines and tests). Other registry formats (xgboost, lightgbm, onnx) are refused with
// UNIMPLEMENTED until their runtimes land — never a wrong prediction.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace falaj::serving {

class LoadedModel {
 public:
  virtual ~LoadedModel() = default;
  // Number of input features per row.
  virtual size_t num_features() const = 0;
  // Predicts `rows` rows stored row-major in `features` (rows × num_features()); one output per
  // row. INVALID_ARGUMENT for a NaN or infinite feature.
  virtual Result<std::vector<double>> Predict(const std::vector<double>& features,
                                              size_t rows) const = 0;
};

// The linear format:
//   {"kind": "linear" | "logistic", "coefficients": [w1, …, wn], "intercept": b}
// Logistic models return the probability 1 / (1 + exp(-(w·x + b))).
Result<std::unique_ptr<LoadedModel>> LoadLinearModel(std::string_view json_text);

// Builds a model of registry format `format` from its artifact bytes.
Result<std::unique_ptr<LoadedModel>> LoadModel(std::string_view format, std::string_view artifact);

}  // namespace falaj::serving
