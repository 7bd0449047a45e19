#include "monitoring/label_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace falaj::monitoring {

void LabelAccumulator::Add(double prediction, double label) {
  if (!std::isfinite(prediction) || !std::isfinite(label)) return;
  if (predictions_.size() >= max_pairs_) {
    ++dropped_;
    return;
  }
  predictions_.push_back(prediction);
  labels_.push_back(label);
}

double RankAuc(const std::vector<double>& scores, const std::vector<double>& labels) {
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double positive_rank_sum = 0;
  double positives = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    double average_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (size_t k = i; k < j; ++k) {
      if (labels[order[k]] == 1.0) {
        positive_rank_sum += average_rank;
        positives += 1;
      }
    }
    i = j;
  }
  double negatives = static_cast<double>(scores.size()) - positives;
  if (positives == 0 || negatives == 0) return std::numeric_limits<double>::quiet_NaN();
  return (positive_rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives);
}

std::map<std::string, double> LabelAccumulator::Compute() const {
  std::map<std::string, double> metrics;
  if (predictions_.empty()) return metrics;
  const auto n = static_cast<double>(predictions_.size());
  double squared = 0;
  double absolute = 0;
  bool binary = true;
  size_t correct = 0;
  for (size_t i = 0; i < predictions_.size(); ++i) {
    double error = predictions_[i] - labels_[i];
    squared += error * error;
    absolute += std::abs(error);
    binary = binary && (labels_[i] == 0.0 || labels_[i] == 1.0);
    correct += ((predictions_[i] >= 0.5) == (labels_[i] == 1.0)) ? 1 : 0;
  }
  metrics["count"] = n;
  metrics["rmse"] = std::sqrt(squared / n);
  metrics["mae"] = absolute / n;
  if (binary) {
    metrics["accuracy"] = static_cast<double>(correct) / n;
    double auc = RankAuc(predictions_, labels_);
    if (!std::isnan(auc)) metrics["auc"] = auc;
  }
  return metrics;
}

}  // namespace falaj::monitoring
