// Per-feature profiles of a window of live traffic, compared later against the feature's
// reference (drift_statistics.h). Built on the serving path, so Update is O(1) (a multiply for
// the bin, a hash lookup for a category) and allocates nothing per value; profiles of the same
// reference merge (per-thread or per-minute windows into one). Not thread-safe: one profile per
// thread or window, merged by the reader.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "monitoring/drift_statistics.h"
#include "monitoring/quantile_sketch.h"

namespace falaj::monitoring {

// A numeric feature: counts on the reference's bins (with an underflow and an overflow bin), a
// quantile sketch, and missing values (NaN; +-inf count as out of range).
class NumericWindowProfile {
 public:
  explicit NumericWindowProfile(BinEdges edges, int32_t sketch_k = 512);

  void Update(double value) {
    ++count_;
    if (std::isnan(value)) {
      ++missing_;
      return;
    }
    ++bins_[BinIndex(edges_, value)];
    if (std::isfinite(value)) sketch_.Update(value);
  }
  void UpdateMissing() {
    ++count_;
    ++missing_;
  }

  // Fails unless both profiles use the same reference bins.
  Status Merge(const NumericWindowProfile& other);

  const BinEdges& edges() const { return edges_; }
  // count + 2 entries: underflow, the reference bins, overflow.
  std::span<const int64_t> bins() const { return bins_; }
  const QuantileSketch& sketch() const { return sketch_; }
  int64_t count() const { return count_; }
  int64_t missing() const { return missing_; }
  int64_t out_of_range() const { return bins_.front() + bins_.back(); }
  double missing_rate() const { return count_ == 0 ? 0.0 : static_cast<double>(missing_) / count_; }

 private:
  BinEdges edges_;
  std::vector<int64_t> bins_;
  QuantileSketch sketch_;
  int64_t count_ = 0;
  int64_t missing_ = 0;
};

// A categorical feature: counts of the reference's categories and of everything unseen (one
// bucket: an unbounded set of new keys would allocate on the serving path).
class CategoricalWindowProfile {
 public:
  // Fails on duplicate categories.
  static Result<CategoricalWindowProfile> Create(std::span<const std::string> categories);

  void Update(std::string_view value) {
    ++count_;
    auto it = index_.find(value);
    if (it == index_.end()) {
      ++unseen_;
    } else {
      ++counts_[it->second];
    }
  }
  void UpdateMissing() {
    ++count_;
    ++missing_;
  }

  // Fails unless both profiles have the same categories in the same order.
  Status Merge(const CategoricalWindowProfile& other);

  std::span<const std::string> categories() const { return categories_; }
  std::span<const int64_t> counts() const { return counts_; }
  int64_t unseen() const { return unseen_; }
  int64_t missing() const { return missing_; }
  int64_t count() const { return count_; }
  double missing_rate() const { return count_ == 0 ? 0.0 : static_cast<double>(missing_) / count_; }

  // Counts keyed by category, with unseen values under `unseen_key` if there are any: ready for
  // CategoricalDrift against the reference's counts.
  CategoryCounts ToCounts(const std::string& unseen_key = "__unseen__") const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view value) const { return std::hash<std::string_view>{}(value); }
  };

  std::vector<std::string> categories_;
  std::unordered_map<std::string, size_t, Hash, std::equal_to<>> index_;
  std::vector<int64_t> counts_;
  int64_t unseen_ = 0;
  int64_t missing_ = 0;
  int64_t count_ = 0;
};

}  // namespace falaj::monitoring
