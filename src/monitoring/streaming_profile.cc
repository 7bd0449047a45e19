#include "monitoring/streaming_profile.h"

namespace falaj::monitoring {

NumericWindowProfile::NumericWindowProfile(BinEdges edges, int32_t sketch_k)
    : edges_(edges), bins_(static_cast<size_t>(edges.count) + 2, 0), sketch_(sketch_k) {}

Status NumericWindowProfile::Merge(const NumericWindowProfile& other) {
  if (!(edges_ == other.edges_)) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot merge profiles with different bins");
  }
  for (size_t i = 0; i < bins_.size(); ++i) bins_[i] += other.bins_[i];
  sketch_.Merge(other.sketch_);
  count_ += other.count_;
  missing_ += other.missing_;
  return Ok();
}

Result<CategoricalWindowProfile> CategoricalWindowProfile::Create(
    std::span<const std::string> categories) {
  CategoricalWindowProfile profile;
  profile.categories_.assign(categories.begin(), categories.end());
  profile.counts_.assign(categories.size(), 0);
  for (size_t i = 0; i < categories.size(); ++i) {
    if (!profile.index_.emplace(categories[i], i).second) {
      return MakeError(ErrorCode::kInvalidArgument, "duplicate category '{}'", categories[i]);
    }
  }
  return profile;
}

Status CategoricalWindowProfile::Merge(const CategoricalWindowProfile& other) {
  if (categories_ != other.categories_) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot merge profiles of different categories");
  }
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  unseen_ += other.unseen_;
  missing_ += other.missing_;
  count_ += other.count_;
  return Ok();
}

CategoryCounts CategoricalWindowProfile::ToCounts(const std::string& unseen_key) const {
  CategoryCounts counts;
  for (size_t i = 0; i < categories_.size(); ++i) counts[categories_[i]] = counts_[i];
  if (unseen_ > 0) counts[unseen_key] += unseen_;
  return counts;
}

}  // namespace falaj::monitoring
