// The lower-level training interface shared by TrainingService and the tuner: prepare a table
// once (feature matrix, label, groups, train/validation/test split) and fit XGBoost on it as many
// times as wanted, with given parameters and a per-iteration callback that sees the validation
// metric and may stop the fit. No XGBoost or Arrow headers here, so it is cheap to include.
//
// Thread-safety: PreparedData is immutable once built and may be shared by concurrent fits;
// FitXGBoost is reentrant (each call owns its DMatrix and booster handles). A fit uses
// `XGBoostConfig::nthread` threads (0: every hardware thread), so parallel fits should split them.
#pragma once

#include <arrow/type_fwd.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"

namespace falaj::training {

// What the label means; decides the split default, the metrics and the output format.
enum class Task { kBinary, kMulticlass, kRegression, kRanking };
std::string_view TaskName(Task task);  // "binary", "multiclass", "regression", "ranking"

enum class SplitMethod { kRandom, kStratified, kTime };
std::string_view SplitMethodName(SplitMethod method);  // "random", "stratified", "time"

// One split of the data: row-major float features (NaN is missing), labels, and for ranking the
// sizes of consecutive query groups (rows of one group are contiguous).
struct DataSplit {
  size_t rows = 0;
  size_t columns = 0;
  std::vector<float> features;  // rows × columns
  std::vector<float> labels;
  std::vector<unsigned> group_sizes;  // ranking only; sums to rows
  std::vector<int64_t> source_rows;   // each row's index in the prepared table, for tracing
};

struct SplitOptions {
  SplitMethod method = SplitMethod::kRandom;
  double validation_fraction = 0.2;  // [0, 1); validation + test < 1
  double test_fraction = 0.2;
  uint64_t seed = 42;
  std::string time_column;  // the kTime method's ordering column (timestamp or numeric)
};

struct PrepareOptions {
  std::string label;
  std::vector<std::string> features;  // in model input order; numeric or bool columns
  std::string group_column;           // ranking: the query id column
  Task task = Task::kRegression;
  int num_class = 0;  // multiclass: labels are 0 .. num_class-1
  SplitOptions split;
};

struct PreparedData {
  Task task = Task::kRegression;
  int num_class = 0;
  std::vector<std::string> feature_names;
  DataSplit train;
  DataSplit validation;      // may be empty (validation_fraction 0)
  DataSplit test;            // may be empty (test_fraction 0)
  int64_t dropped_rows = 0;  // rows without a label, left out
};

// Builds the matrices and splits `table`. INVALID_ARGUMENT naming the column for a missing or
// non-numeric column, labels that do not fit the task (binary: 0/1; multiclass: whole numbers in
// [0, num_class)), or a split that leaves the training set empty.
//   random:     rows shuffled by `seed`, then test, validation, train taken in that order;
//   stratified: the same within each label class, so each split keeps the class ratios;
//   time:       rows ordered by `time_column`; the latest go to test, the next latest to
//               validation; rows with equal times never straddle two splits.
// Ranking splits whole query groups at random (whatever the method) and keeps groups contiguous.
// Within a split rows are in table order (ranking: group by group); source_rows says which.
Result<PreparedData> PrepareData(const arrow::Table& table, const PrepareOptions& options);

// XGBoost training parameters. `params` are XGBoost's own (max_depth, eta …), already validated
// by ValidateXGBoostParams; objective, num_class and nthread are set here, not in `params`.
struct XGBoostConfig {
  std::string objective = "reg:squarederror";
  int num_class = 0;
  std::map<std::string, std::string> params;
  int num_boost_round = 100;
  int early_stopping_rounds = 0;  // 0: no early stopping; else needs a validation split
  int nthread = 0;                // 0: every hardware thread
  bool predict_test = true;       // fill FitResult::test_predictions
};

// Called after every boosting iteration (0-based) with the validation metric (NaN without a
// validation split). Returning false stops training now; the fit then returns what it has (the
// best iteration so far), not an error.
using IterationCallback = std::function<bool(int iteration, double validation_metric)>;

struct FitResult {
  std::string model_json;   // XGBoost JSON, cut to best_iteration + 1 rounds
  std::string metric_name;  // the validation metric, e.g. "logloss", "auc", "ndcg"
  bool higher_is_better = false;
  std::vector<double> validation_history;  // one per iteration run
  int iterations_run = 0;
  int best_iteration = -1;  // -1 without a validation split: the last iteration is kept
  double best_validation_metric = 0;
  bool stopped_by_callback = false;
  bool stopped_early = false;  // by early_stopping_rounds
  // Test-split predictions of the kept model: rows × (num_class for multi:softprob, else 1).
  std::vector<float> test_predictions;
};

// Checks XGBoost parameters from a spec (numbers or strings): names, types and ranges.
// INVALID_ARGUMENT naming `params.<name>` for an unknown or bad one. Returns them as strings.
Result<std::map<std::string, std::string>> ValidateXGBoostParams(const nlohmann::json& params);

// The evaluation metric XGBoost reports for an objective when `eval_metric` is not set, and
// whether larger is better for a metric name ("auc", "ndcg@10", "rmse" …).
std::string DefaultEvalMetric(std::string_view objective);
bool HigherIsBetter(std::string_view metric);

// Trains on data.train, evaluating data.validation after every iteration. INVALID_ARGUMENT for
// parameters XGBoost refuses (its message included), INTERNAL for other library failures.
Result<FitResult> FitXGBoost(const PreparedData& data, const XGBoostConfig& config,
                             const IterationCallback& on_iteration = {});

// The version of the linked libxgboost, "1.7.4".
std::string XGBoostLibraryVersion();

}  // namespace falaj::training
