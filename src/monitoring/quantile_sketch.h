// A mergeable quantile sketch of doubles (a compactor hierarchy in the style of KLL with equal
// capacity k per level). Not thread-safe: keep one per thread or window and merge them.
//
// Error bound (deterministic): each compaction of k sorted items at level h into k/2 items of
// weight 2^(h+1) moves any rank by at most 2^h, and level h compacts at most n / (k 2^h) times,
// so a rank query is off by at most H n / k, with H the number of levels that have compacted
// (about log2(n / k)). RankErrorBound() returns H / k. The random choice of odd or even items
// makes the typical error far smaller (errors cancel), but only the bound is promised. A returned
// quantile may also be off by the weight of one kept item (at most 2 n / k).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace falaj::monitoring {

class QuantileSketch {
 public:
  // k: items kept per level; even, >= 8. Memory ~ 16 k (H + 1) bytes (each level reserves 2 k
  // so a compaction's output never reallocates).
  explicit QuantileSketch(int32_t k = 512, uint64_t seed = 1);

  // O(1) amortised (a compaction sorts k items once per k updates at level 0); allocates only
  // when a new level first appears (about log2(n / k) times in the sketch's life).
  void Update(double value) {
    levels_[0].push_back(value);
    ++count_;
    if (levels_[0].size() >= static_cast<size_t>(k_)) Compact(0);
  }

  // Adds other's items; the result answers for the union with the same bound.
  void Merge(const QuantileSketch& other);

  int64_t count() const { return count_; }
  int32_t k() const { return k_; }

  // The smallest kept item whose weighted rank (number of items <= it) reaches q * n; NaN when
  // empty. q is clamped to [0, 1].
  double Quantile(double q) const;

  // Normalised rank error bound H / k (see the header comment).
  double RankErrorBound() const;

 private:
  void Compact(size_t level);
  uint64_t NextRandom();

  int32_t k_;
  uint64_t random_state_;
  int64_t count_ = 0;
  std::vector<std::vector<double>> levels_;  // level h holds items of weight 2^h
  std::vector<int64_t> compactions_;         // compactions done per level, for the bound
};

}  // namespace falaj::monitoring
