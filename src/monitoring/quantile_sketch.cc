#include "monitoring/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace falaj::monitoring {

QuantileSketch::QuantileSketch(int32_t k, uint64_t seed)
    : k_(std::max<int32_t>(8, k + (k % 2))), random_state_(seed | 1) {
  levels_.emplace_back();
  levels_[0].reserve(2 * static_cast<size_t>(k_));
  compactions_.push_back(0);
}

uint64_t QuantileSketch::NextRandom() {
  // xorshift64: cheap, and deterministic for a given seed so tests are reproducible.
  random_state_ ^= random_state_ << 13;
  random_state_ ^= random_state_ >> 7;
  random_state_ ^= random_state_ << 17;
  return random_state_;
}

void QuantileSketch::Compact(size_t level) {
  while (level < levels_.size() && levels_[level].size() >= static_cast<size_t>(k_)) {
    if (level + 1 == levels_.size()) {
      levels_.emplace_back();
      levels_.back().reserve(2 * static_cast<size_t>(k_));
      compactions_.push_back(0);
    }
    std::vector<double>& items = levels_[level];
    std::sort(items.begin(), items.end());
    // An odd item stays behind at this level so total weight is preserved exactly.
    size_t even = items.size() - items.size() % 2;
    size_t offset = NextRandom() & 1;
    std::vector<double>& next = levels_[level + 1];
    for (size_t i = offset; i < even; i += 2) next.push_back(items[i]);
    double leftover = items.size() % 2 ? items.back() : 0.0;
    bool has_leftover = items.size() % 2 == 1;
    items.clear();
    if (has_leftover) items.push_back(leftover);
    ++compactions_[level];
    ++level;
  }
}

void QuantileSketch::Merge(const QuantileSketch& other) {
  while (levels_.size() < other.levels_.size()) {
    levels_.emplace_back();
    levels_.back().reserve(2 * static_cast<size_t>(k_));
    compactions_.push_back(0);
  }
  for (size_t h = 0; h < other.levels_.size(); ++h) {
    levels_[h].insert(levels_[h].end(), other.levels_[h].begin(), other.levels_[h].end());
    compactions_[h] += other.compactions_[h];
  }
  count_ += other.count_;
  for (size_t h = 0; h < levels_.size(); ++h) Compact(h);
}

double QuantileSketch::Quantile(double q) const {
  if (count_ == 0) return NAN;
  std::vector<std::pair<double, int64_t>> weighted;
  for (size_t h = 0; h < levels_.size(); ++h) {
    for (double value : levels_[h]) weighted.emplace_back(value, int64_t{1} << h);
  }
  std::sort(weighted.begin(), weighted.end());
  double target = std::clamp(q, 0.0, 1.0) * static_cast<double>(count_);
  int64_t rank = 0;
  for (const auto& [value, weight] : weighted) {
    rank += weight;
    if (static_cast<double>(rank) >= target) return value;
  }
  return weighted.back().first;
}

double QuantileSketch::RankErrorBound() const {
  // Sum over levels of (compactions at h) * 2^h / n, which is <= H / k.
  double error = 0.0;
  for (size_t h = 0; h < compactions_.size(); ++h) {
    error += static_cast<double>(compactions_[h]) * std::ldexp(1.0, static_cast<int>(h));
  }
  return count_ == 0 ? 0.0 : error / static_cast<double>(count_);
}

}  // namespace falaj::monitoring
