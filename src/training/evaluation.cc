#include "training/evaluation.h"

#include <arrow/api.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "data/column_profile.h"

namespace falaj::training {
namespace {

constexpr double kClip = 1e-15;

double Clip(double p) { return std::clamp(p, kClip, 1 - kClip); }

struct Counts {
  double tp = 0, fp = 0, fn = 0;
};
double Ratio(double a, double b) { return b > 0 ? a / b : 0.0; }
double F1(const Counts& c) {
  const double precision = Ratio(c.tp, c.tp + c.fp), recall = Ratio(c.tp, c.tp + c.fn);
  return Ratio(2 * precision * recall, precision + recall);
}

std::vector<int> PredictedClasses(const std::vector<float>& predictions, size_t rows, int k) {
  std::vector<int> classes(rows);
  for (size_t r = 0; r < rows; ++r) {
    if (k <= 1) {
      classes[r] = predictions[r] >= 0.5f ? 1 : 0;
    } else {
      const float* row = predictions.data() + r * k;
      classes[r] = static_cast<int>(std::max_element(row, row + k) - row);
    }
  }
  return classes;
}

void ClassificationMetrics(int num_class, const DataSplit& test,
                           const std::vector<float>& predictions, nlohmann::json& out) {
  const int k = std::max(num_class, 2);
  const auto predicted = PredictedClasses(predictions, test.rows, num_class);
  std::vector<Counts> counts(k);
  double correct = 0;
  for (size_t r = 0; r < test.rows; ++r) {
    const int actual = static_cast<int>(test.labels[r]);
    if (predicted[r] == actual) {
      ++correct;
      ++counts[actual].tp;
    } else {
      ++counts[predicted[r]].fp;
      ++counts[actual].fn;
    }
  }
  out["accuracy"] = Ratio(correct, static_cast<double>(test.rows));
  if (num_class <= 1) {
    out["precision"] = Ratio(counts[1].tp, counts[1].tp + counts[1].fp);
    out["recall"] = Ratio(counts[1].tp, counts[1].tp + counts[1].fn);
    out["f1"] = F1(counts[1]);
    out["auc"] = Auc(predictions, test.labels);
    out["logloss"] = LogLoss(predictions, test.labels);
    return;
  }
  double precision = 0, recall = 0, f1 = 0, auc = 0;
  for (int c = 0; c < k; ++c) {
    precision += Ratio(counts[c].tp, counts[c].tp + counts[c].fp) / k;
    recall += Ratio(counts[c].tp, counts[c].tp + counts[c].fn) / k;
    f1 += F1(counts[c]) / k;
    std::vector<float> scores(test.rows), is_class(test.rows);
    for (size_t r = 0; r < test.rows; ++r) {
      scores[r] = predictions[r * k + c];
      is_class[r] = test.labels[r] == c ? 1.0f : 0.0f;
    }
    auc += Auc(scores, is_class) / k;
  }
  out["precision"] = precision;
  out["recall"] = recall;
  out["f1"] = f1;
  out["auc"] = auc;
  out["logloss"] = MultiLogLoss(predictions, test.labels, k);
}

void RegressionMetrics(const DataSplit& test, const std::vector<float>& predictions,
                       nlohmann::json& out) {
  const double n = static_cast<double>(test.rows);
  double mean = 0;
  for (float y : test.labels) mean += y;
  mean /= n;
  double sse = 0, sae = 0, sst = 0;
  for (size_t r = 0; r < test.rows; ++r) {
    const double error = static_cast<double>(test.labels[r]) - predictions[r];
    sse += error * error;
    sae += std::fabs(error);
    sst += (test.labels[r] - mean) * (test.labels[r] - mean);
  }
  out["rmse"] = std::sqrt(sse / n);
  out["mae"] = sae / n;
  out["r2"] = sst > 0 ? 1 - sse / sst : 0.0;
}

// Known metric names per task ("ndcg@<k>" is matched by prefix).
const std::set<std::string>& Known(Task task) {
  static const std::set<std::string> classification = {"auc",       "logloss", "accuracy",
                                                       "precision", "recall",  "f1"};
  static const std::set<std::string> regression = {"rmse", "mae", "r2"};
  static const std::set<std::string> ranking = {};
  switch (task) {
    case Task::kBinary:
    case Task::kMulticlass:
      return classification;
    case Task::kRegression:
      return regression;
    case Task::kRanking:
      return ranking;
  }
  return regression;
}

std::optional<int> NdcgCutoff(const std::string& name) {
  if (name == "ndcg") return 10;
  if (!name.starts_with("ndcg@")) return std::nullopt;
  const std::string digits = name.substr(5);
  if (digits.empty() || digits.size() > 4 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  const int k = std::stoi(digits);
  return k > 0 ? std::optional<int>(k) : std::nullopt;
}

}  // namespace

double Auc(const std::vector<float>& scores, const std::vector<float>& labels) {
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  // Mann–Whitney: the sum of the positives' average ranks (1-based, ties share their mean rank).
  double positive_rank_sum = 0, positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t t = i; t < j; ++t) {
      if (labels[order[t]] > 0.5f) {
        positive_rank_sum += average_rank;
        ++positives;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return std::nan("");
  return (positive_rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

double LogLoss(const std::vector<float>& probabilities, const std::vector<float>& labels) {
  double sum = 0;
  for (size_t r = 0; r < labels.size(); ++r) {
    const double p = Clip(probabilities[r]);
    sum -= labels[r] * std::log(p) + (1 - labels[r]) * std::log(1 - p);
  }
  return sum / static_cast<double>(labels.size());
}

double MultiLogLoss(const std::vector<float>& probabilities, const std::vector<float>& labels,
                    int num_class) {
  double sum = 0;
  for (size_t r = 0; r < labels.size(); ++r) {
    sum -= std::log(Clip(probabilities[r * num_class + static_cast<size_t>(labels[r])]));
  }
  return sum / static_cast<double>(labels.size());
}

double NdcgAt(const std::vector<float>& scores, const std::vector<float>& labels,
              const std::vector<unsigned>& group_sizes, int k) {
  double total = 0;
  size_t start = 0;
  for (unsigned size : group_sizes) {
    std::vector<size_t> by_score(size);
    std::iota(by_score.begin(), by_score.end(), start);
    std::stable_sort(by_score.begin(), by_score.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    std::vector<float> ideal(labels.begin() + start, labels.begin() + start + size);
    std::sort(ideal.begin(), ideal.end(), std::greater<>());
    double dcg = 0, idcg = 0;
    for (size_t i = 0; i < std::min<size_t>(size, k); ++i) {
      const double discount = std::log2(static_cast<double>(i) + 2);
      dcg += (std::exp2(labels[by_score[i]]) - 1) / discount;
      idcg += (std::exp2(ideal[i]) - 1) / discount;
    }
    total += idcg > 0 ? dcg / idcg : 1.0;
    start += size;
  }
  return group_sizes.empty() ? std::nan("") : total / static_cast<double>(group_sizes.size());
}

std::vector<CalibrationBin> CalibrationTable(const std::vector<float>& probabilities,
                                             const std::vector<float>& labels) {
  std::vector<CalibrationBin> bins(10);
  std::vector<double> predicted(10, 0), observed(10, 0);
  for (size_t r = 0; r < labels.size(); ++r) {
    const double p = std::clamp<double>(probabilities[r], 0, 1);
    const size_t bin = std::min<size_t>(static_cast<size_t>(p * 10), 9);
    predicted[bin] += p;
    observed[bin] += labels[r];
    ++bins[bin].count;
  }
  for (size_t b = 0; b < 10; ++b) {
    bins[b].lower = static_cast<double>(b) / 10;
    bins[b].upper = static_cast<double>(b + 1) / 10;
    if (bins[b].count > 0) {
      bins[b].mean_predicted = predicted[b] / static_cast<double>(bins[b].count);
      bins[b].observed_rate = observed[b] / static_cast<double>(bins[b].count);
    }
  }
  return bins;
}

std::vector<std::string> DefaultMetrics(Task task) {
  switch (task) {
    case Task::kBinary:
    case Task::kMulticlass:
      return {"auc", "logloss", "accuracy", "precision", "recall", "f1"};
    case Task::kRegression:
      return {"rmse", "mae", "r2"};
    case Task::kRanking:
      return {"ndcg@5", "ndcg@10"};
  }
  return {};
}

Status ValidateMetrics(Task task, const std::vector<std::string>& metrics) {
  for (size_t i = 0; i < metrics.size(); ++i) {
    const bool ok = task == Task::kRanking ? NdcgCutoff(metrics[i]).has_value()
                                           : Known(task).contains(metrics[i]);
    if (!ok) {
      return MakeError(ErrorCode::kInvalidArgument, "metrics[{}]: '{}' is not a {} metric", i,
                       metrics[i], TaskName(task));
    }
  }
  return Ok();
}

nlohmann::json Evaluate(Task task, int num_class, const DataSplit& test,
                        const std::vector<float>& predictions,
                        const std::vector<std::string>& metrics) {
  nlohmann::json all = nlohmann::json::object();
  nlohmann::json report = {{"rows", test.rows}, {"metrics", nlohmann::json::object()}};
  if (test.rows == 0) return report;
  if (task == Task::kBinary || task == Task::kMulticlass) {
    ClassificationMetrics(task == Task::kMulticlass ? num_class : 0, test, predictions, all);
  } else if (task == Task::kRegression) {
    RegressionMetrics(test, predictions, all);
  }
  for (const auto& name : metrics) {
    if (auto k = NdcgCutoff(name); task == Task::kRanking && k) {
      report["metrics"][name] = NdcgAt(predictions, test.labels, test.group_sizes, *k);
    } else if (all.contains(name)) {
      report["metrics"][name] = all[name];
    }
  }
  if (task == Task::kBinary) {
    nlohmann::json table = nlohmann::json::array();
    for (const auto& bin : CalibrationTable(predictions, test.labels)) {
      table.push_back({{"lower", bin.lower},
                       {"upper", bin.upper},
                       {"mean_predicted", bin.mean_predicted},
                       {"observed_rate", bin.observed_rate},
                       {"count", bin.count}});
    }
    report["calibration"] = std::move(table);
  }
  return report;
}

Result<nlohmann::json> ReferenceProfile(const PreparedData& data,
                                        const std::vector<float>& predictions) {
  const DataSplit& test = data.test;
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  auto add = [&](const std::string& name, size_t stride, size_t offset,
                 const std::vector<float>& values) -> Status {
    arrow::DoubleBuilder builder;
    if (!builder.Reserve(static_cast<int64_t>(test.rows)).ok()) {
      return MakeError(ErrorCode::kInternal, "reference profile: out of memory");
    }
    for (size_t r = 0; r < test.rows; ++r) {
      builder.UnsafeAppend(static_cast<double>(values[r * stride + offset]));
    }
    std::shared_ptr<arrow::Array> array;
    if (!builder.Finish(&array).ok()) {
      return MakeError(ErrorCode::kInternal, "reference profile: cannot build column {}", name);
    }
    fields.push_back(arrow::field(name, arrow::float64()));
    arrays.push_back(std::move(array));
    return Ok();
  };
  for (size_t c = 0; c < test.columns; ++c) {
    FALAJ_RETURN_IF_ERROR(add(data.feature_names[c], test.columns, c, test.features));
  }
  const size_t outputs = test.rows > 0 ? predictions.size() / test.rows : 1;
  for (size_t o = 0; o < outputs && test.rows > 0; ++o) {
    FALAJ_RETURN_IF_ERROR(add(outputs == 1 ? "prediction" : fmt::format("prediction_{}", o),
                              outputs, o, predictions));
  }
  auto table = arrow::Table::Make(arrow::schema(fields), arrays, static_cast<int64_t>(test.rows));
  FALAJ_ASSIGN_OR_RETURN(auto profile, data::ProfileTable(*table));
  return data::ProfileToJson(profile);
}

}  // namespace falaj::training
