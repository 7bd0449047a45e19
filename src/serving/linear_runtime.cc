#include <cmath>
#include <nlohmann/json.hpp>

#include "serving/model_runtime.h"

namespace falaj::serving {
namespace {

// Up to this many features; keeps a hostile artifact from asking for absurd allocations.
constexpr size_t kMaxFeatures = 1 << 20;

class LinearModel final : public LoadedModel {
 public:
  LinearModel(bool logistic, std::vector<double> coefficients, double intercept)
      : logistic_(logistic), coefficients_(std::move(coefficients)), intercept_(intercept) {}

  size_t num_features() const override { return coefficients_.size(); }
  size_t num_outputs() const override { return 1; }
  bool accepts_missing() const override { return false; }
  std::string_view runtime() const override { return "linear"; }

  Status Predict(std::span<const float> features, size_t rows,
                 std::span<float> outputs) const override {
    const size_t width = coefficients_.size();
    if (features.size() != rows * width || outputs.size() != rows) {
      return MakeError(ErrorCode::kInvalidArgument, "expected {} values ({} rows of {}), got {}",
                       rows * width, rows, width, features.size());
    }
    for (size_t row = 0; row < rows; ++row) {
      const float* x = features.data() + row * width;
      double sum = intercept_;
      for (size_t i = 0; i < width; ++i) {
        if (!std::isfinite(x[i])) {
          return MakeError(ErrorCode::kInvalidArgument, "row {} feature {} is not a finite number",
                           row, i);
        }
        sum += coefficients_[i] * x[i];
      }
      outputs[row] = static_cast<float>(logistic_ ? 1.0 / (1.0 + std::exp(-sum)) : sum);
    }
    return Ok();
  }

 private:
  const bool logistic_;
  const std::vector<double> coefficients_;
  const double intercept_;
};

}  // namespace

Result<std::unique_ptr<LoadedModel>> LoadLinearModel(std::string_view json_text) {
  nlohmann::json model = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  auto invalid = [](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument, "linear model artifact: {}", why);
  };
  if (model.is_discarded() || !model.is_object()) return invalid("not a JSON object");
  std::string kind = model.value("kind", "");
  if (kind != "linear" && kind != "logistic") return invalid("'kind' must be linear or logistic");
  auto coefficients = model.find("coefficients");
  if (coefficients == model.end() || !coefficients->is_array() || coefficients->empty() ||
      coefficients->size() > kMaxFeatures) {
    return invalid("'coefficients' must be a non-empty list of numbers");
  }
  std::vector<double> weights;
  weights.reserve(coefficients->size());
  for (const auto& weight : *coefficients) {
    if (!weight.is_number() || !std::isfinite(weight.get<double>())) {
      return invalid("'coefficients' must be finite numbers");
    }
    weights.push_back(weight.get<double>());
  }
  auto intercept = model.find("intercept");
  if (intercept == model.end() || !intercept->is_number() ||
      !std::isfinite(intercept->get<double>())) {
    return invalid("'intercept' must be a finite number");
  }
  return std::make_unique<LinearModel>(kind == "logistic", std::move(weights),
                                       intercept->get<double>());
}

}  // namespace falaj::serving
