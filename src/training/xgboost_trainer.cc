// FitXGBoost over libxgboost's C API: DMatrix from the dense float splits (NaN missing), one
// UpdateOneIter + EvalOneIter per round, early stopping on the validation metric, the kept
// rounds sliced out of the booster and saved as XGBoost JSON.
#include <xgboost/c_api.h>

#include <cmath>
#include <limits>
#include <memory>
#include <thread>

#include "training/trainer.h"

namespace falaj::training {
namespace {

constexpr float kMissing = std::numeric_limits<float>::quiet_NaN();

Error LibraryError(std::string_view what) {
  return Error{ErrorCode::kInvalidArgument, fmt::format("xgboost {}: {}", what, XGBGetLastError())};
}

struct MatrixDeleter {
  void operator()(void* handle) const { XGDMatrixFree(handle); }
};
struct BoosterDeleter {
  void operator()(void* handle) const { XGBoosterFree(handle); }
};
using Matrix = std::unique_ptr<void, MatrixDeleter>;
using Booster = std::unique_ptr<void, BoosterDeleter>;

Result<Matrix> MakeMatrix(const DataSplit& split, int nthread) {
  DMatrixHandle handle = nullptr;
  if (XGDMatrixCreateFromMat_omp(split.features.data(), split.rows, split.columns, kMissing,
                                 &handle, nthread) != 0) {
    return std::unexpected(LibraryError("matrix"));
  }
  Matrix matrix(handle);
  if (XGDMatrixSetFloatInfo(handle, "label", split.labels.data(), split.rows) != 0) {
    return std::unexpected(LibraryError("labels"));
  }
  if (!split.group_sizes.empty() && XGDMatrixSetUIntInfo(handle, "group", split.group_sizes.data(),
                                                         split.group_sizes.size()) != 0) {
    return std::unexpected(LibraryError("groups"));
  }
  return matrix;
}

// EvalOneIter answers "[3]\tvalid-logloss:0.123"; the value after the last ':' is the metric.
double ParseEval(const char* text) {
  std::string_view answer(text);
  const size_t colon = answer.rfind(':');
  if (colon == std::string_view::npos) return std::numeric_limits<double>::quiet_NaN();
  return std::strtod(std::string(answer.substr(colon + 1)).c_str(), nullptr);
}

Result<std::vector<float>> Predict(BoosterHandle booster, const DataSplit& split, int nthread) {
  if (split.rows == 0) return std::vector<float>{};
  FALAJ_ASSIGN_OR_RETURN(auto matrix, MakeMatrix(split, nthread));
  // type 0: transformed predictions (probabilities for classifiers); every tree of the booster.
  const char* config = R"({"type": 0, "training": false, "iteration_begin": 0,
                           "iteration_end": 0, "strict_shape": false})";
  const bst_ulong* shape = nullptr;
  bst_ulong dimension = 0;
  const float* values = nullptr;
  if (XGBoosterPredictFromDMatrix(booster, matrix.get(), config, &shape, &dimension, &values) !=
      0) {
    return std::unexpected(LibraryError("predict"));
  }
  size_t count = 1;
  for (bst_ulong d = 0; d < dimension; ++d) count *= shape[d];
  return std::vector<float>(values, values + count);
}

Status SetParams(BoosterHandle booster, const XGBoostConfig& config, const std::string& metric,
                 int nthread) {
  std::map<std::string, std::string> all = config.params;
  all["objective"] = config.objective;
  all["nthread"] = std::to_string(nthread);
  all["eval_metric"] = metric;
  if (config.num_class > 0) all["num_class"] = std::to_string(config.num_class);
  for (const auto& [key, value] : all) {
    if (XGBoosterSetParam(booster, key.c_str(), value.c_str()) != 0) {
      return std::unexpected(LibraryError("parameter " + key));
    }
  }
  return Ok();
}

}  // namespace

std::string XGBoostLibraryVersion() {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  return fmt::format("{}.{}.{}", major, minor, patch);
}

Result<FitResult> FitXGBoost(const PreparedData& data, const XGBoostConfig& config,
                             const IterationCallback& on_iteration) {
  if (config.num_boost_round < 1) {
    return MakeError(ErrorCode::kInvalidArgument, "num_boost_round must be at least 1");
  }
  const bool has_validation = data.validation.rows > 0;
  if (config.early_stopping_rounds > 0 && !has_validation) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "early_stopping_rounds needs a validation split (validation_fraction > 0)");
  }
  const int nthread = config.nthread > 0
                          ? config.nthread
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  FALAJ_ASSIGN_OR_RETURN(auto train, MakeMatrix(data.train, nthread));
  Matrix validation;
  if (has_validation) {
    FALAJ_ASSIGN_OR_RETURN(validation, MakeMatrix(data.validation, nthread));
  }
  // The booster caches predictions for every matrix it is created with, which makes the
  // per-round evaluation incremental (one new tree per round) instead of a full predict.
  DMatrixHandle cached[2] = {train.get(), validation.get()};
  BoosterHandle handle = nullptr;
  if (XGBoosterCreate(cached, has_validation ? 2 : 1, &handle) != 0) {
    return std::unexpected(LibraryError("booster"));
  }
  Booster booster(handle);
  FitResult result;
  auto metric = config.params.find("eval_metric");
  result.metric_name =
      metric != config.params.end() ? metric->second : DefaultEvalMetric(config.objective);
  result.higher_is_better = HigherIsBetter(result.metric_name);
  FALAJ_RETURN_IF_ERROR(SetParams(handle, config, result.metric_name, nthread));

  const char* names[1] = {"valid"};
  DMatrixHandle eval_sets[1] = {validation.get()};
  int since_best = 0;
  for (int iteration = 0; iteration < config.num_boost_round; ++iteration) {
    if (XGBoosterUpdateOneIter(handle, iteration, train.get()) != 0) {
      return std::unexpected(LibraryError("training"));
    }
    result.iterations_run = iteration + 1;
    double value = std::numeric_limits<double>::quiet_NaN();
    if (has_validation) {
      const char* answer = nullptr;
      if (XGBoosterEvalOneIter(handle, iteration, eval_sets, names, 1, &answer) != 0) {
        return std::unexpected(LibraryError("evaluation"));
      }
      value = ParseEval(answer);
      const bool better = result.best_iteration < 0 ||
                          (result.higher_is_better ? value > result.best_validation_metric
                                                   : value < result.best_validation_metric);
      if (better) {
        result.best_iteration = iteration;
        result.best_validation_metric = value;
        since_best = 0;
      } else {
        ++since_best;
      }
    }
    result.validation_history.push_back(value);
    if (on_iteration && !on_iteration(iteration, value)) {
      result.stopped_by_callback = true;
      break;
    }
    if (config.early_stopping_rounds > 0 && since_best >= config.early_stopping_rounds) {
      result.stopped_early = true;
      break;
    }
  }
  // Keep the rounds up to the best one, so the saved model is the one early stopping chose.
  const int kept = result.best_iteration >= 0 ? result.best_iteration + 1 : result.iterations_run;
  Booster kept_booster;
  BoosterHandle final_handle = handle;
  if (kept < result.iterations_run) {
    BoosterHandle sliced = nullptr;
    if (XGBoosterSlice(handle, 0, kept, 1, &sliced) != 0) {
      return std::unexpected(LibraryError("slice"));
    }
    kept_booster.reset(sliced);
    final_handle = sliced;
  }
  bst_ulong length = 0;
  const char* buffer = nullptr;
  if (XGBoosterSaveModelToBuffer(final_handle, R"({"format": "json"})", &length, &buffer) != 0) {
    return std::unexpected(LibraryError("save"));
  }
  result.model_json.assign(buffer, length);
  if (config.predict_test) {
    FALAJ_ASSIGN_OR_RETURN(result.test_predictions, Predict(final_handle, data.test, nthread));
  }
  return result;
}

}  // namespace falaj::training
