// Model quality from delayed labels, per monitor window: each joined outcome "label" gives a
// (prediction, label) pair. The window keeps up to a bound of pairs (a window with more keeps
// the first ones and counts the rest as dropped) and computes, when it closes:
//   rmse, mae              always (regression view: prediction vs label)
//   auc, accuracy          when every label is 0 or 1: AUC from average ranks (ties count 1/2,
//                          as training/evaluation.h), accuracy with prediction >= 0.5 as class 1
// Not thread-safe: the monitor's window lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace falaj::monitoring {

class LabelAccumulator {
 public:
  explicit LabelAccumulator(size_t max_pairs = 1 << 20) : max_pairs_(max_pairs) {}

  void Add(double prediction, double label);
  size_t count() const { return predictions_.size(); }
  int64_t dropped() const { return dropped_; }

  // name -> value; empty when no pair was added.
  std::map<std::string, double> Compute() const;

 private:
  size_t max_pairs_;
  std::vector<double> predictions_;
  std::vector<double> labels_;
  int64_t dropped_ = 0;
};

// Probability that a random positive scores above a random negative (ties 1/2); NaN when a class
// is missing.
double RankAuc(const std::vector<double>& scores, const std::vector<double>& labels);

}  // namespace falaj::monitoring
