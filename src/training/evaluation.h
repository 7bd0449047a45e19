// Evaluation of a trained model on the test split, and the reference profile monitoring compares
// production inputs and predictions against.
//
// Definitions (n test rows, p the predicted probability of class 1, ŷ a prediction):
//   auc        probability that a random positive scores above a random negative, ties 1/2
//              (computed from average ranks); multiclass: the macro mean of one-vs-rest AUCs
//   logloss    −(1/n) Σ [y log p + (1 − y) log(1 − p)], p clipped to [1e-15, 1 − 1e-15];
//              multiclass: −(1/n) Σ log p_y
//   accuracy   share of rows whose predicted class (p ≥ 0.5; multiclass: arg max) is the label
//   precision, recall, f1  of class 1 (binary) or their macro means over classes (multiclass);
//              0 where the denominator is 0
//   rmse, mae, r2  √(mean (y − ŷ)²), mean |y − ŷ|, 1 − SSE / Σ (y − ȳ)²
//   ndcg@k     per query group DCG@k / IDCG@k with gain 2^rel − 1 and discount log2(i + 1), ties
//              in score broken by order in the split; groups whose IDCG is 0 count as 1
//              (XGBoost's convention); the mean over groups
// The calibration table (binary) has 10 equal-width bins of p over [0, 1] (the last closed):
// per bin the mean predicted p, the observed rate of y = 1 and the count.
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/result.h"
#include "training/trainer.h"

namespace falaj::training {

double Auc(const std::vector<float>& scores, const std::vector<float>& labels);
double LogLoss(const std::vector<float>& probabilities, const std::vector<float>& labels);
double MultiLogLoss(const std::vector<float>& probabilities, const std::vector<float>& labels,
                    int num_class);
double NdcgAt(const std::vector<float>& scores, const std::vector<float>& labels,
              const std::vector<unsigned>& group_sizes, int k);

struct CalibrationBin {
  double lower = 0, upper = 0;
  double mean_predicted = 0;  // 0 for an empty bin
  double observed_rate = 0;   // 0 for an empty bin
  int64_t count = 0;
};
std::vector<CalibrationBin> CalibrationTable(const std::vector<float>& probabilities,
                                             const std::vector<float>& labels);

// The metrics a task reports by default, e.g. binary: auc, logloss, accuracy, precision, recall,
// f1.
std::vector<std::string> DefaultMetrics(Task task);
// INVALID_ARGUMENT naming `metrics[i]` for an unknown name or one the task does not have.
Status ValidateMetrics(Task task, const std::vector<std::string>& metrics);

// The test-split report: {"metrics": {name: value}, "rows": n, "calibration": [...] (binary)}.
// `predictions` are rows × num_class probabilities for multiclass, else one value per row.
nlohmann::json Evaluate(Task task, int num_class, const DataSplit& test,
                        const std::vector<float>& predictions,
                        const std::vector<std::string>& metrics);

// The data/column_profile JSON of the test split's inputs plus the predictions (column
// "prediction", or "prediction_<class>" per class for multiclass).
Result<nlohmann::json> ReferenceProfile(const PreparedData& data,
                                        const std::vector<float>& predictions);

}  // namespace falaj::training
