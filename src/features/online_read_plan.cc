#include "features/online_read_plan.h"

#include <algorithm>
#include <chrono>

#include "features/online_aggregates.h"

namespace falaj::features {

std::string_view FeatureStatusName(FeatureStatus status) {
  switch (status) {
    case FeatureStatus::kPresent:
      return "PRESENT";
    case FeatureStatus::kNotFound:
      return "NOT_FOUND";
    case FeatureStatus::kOutsideMaxAge:
      return "OUTSIDE_MAX_AGE";
  }
  return "NOT_FOUND";
}

PreparedRead::PreparedRead(std::string_view project,
                           std::shared_ptr<const std::vector<ResolvedView>> views)
    : views_(std::move(views)) {
  for (const auto& view : *views_) {
    ViewReadPlan plan;
    plan.view = &view;
    plan.prefix = OnlineKeyPrefix(project, view.view.name);
    plan.layout = LayoutHash(view.view.features);
    for (size_t k = 0; k < view.join_keys.size(); ++k) {
      auto known = std::find(join_keys_.begin(), join_keys_.end(), view.join_keys[k]);
      plan.key_columns.push_back(static_cast<size_t>(known - join_keys_.begin()));
      if (known == join_keys_.end()) join_keys_.push_back(view.join_keys[k]);
      plan.key_types.push_back(k < view.join_key_types.size() ? view.join_key_types[k]
                                                              : data::ColumnType::kInt64);
    }
    plan.slots.assign(view.view.features.size(), -1);
    for (const auto& feature : view.selected) {
      for (size_t f = 0; f < view.view.features.size(); ++f) {
        if (view.view.features[f].name != feature.name) continue;
        if (plan.slots[f] < 0) {
          plan.slots[f] = static_cast<int32_t>(plan.columns);
        } else {
          plan.repeats.emplace_back(static_cast<size_t>(plan.slots[f]), plan.columns);
        }
      }
      ++plan.columns;
    }
    plan.first_column = columns_;
    columns_ += plan.columns;
    plan.ttl_micros = std::chrono::duration_cast<std::chrono::microseconds>(view.view.ttl).count();
    if (view.view.aggregated()) {
      plan.encoding = OnlineEncoding::kAggregateTiles;
      plan.tiles = std::make_shared<const TileLayout>(TileLayoutOf(view.view));
      plan.aggregates = AggregateFeatures(view.view);
    }
    plans_.push_back(std::move(plan));
  }
}

Result<bool> PreparedRead::Read(storage::KvStore& kv,
                                std::span<const std::span<const EntityKey>> keys, size_t rows,
                                int64_t now_micros, bool memory_only, OnlineReadResult& out) const {
  if (keys.size() != join_keys_.size()) {
    return MakeError(ErrorCode::kInternal, "online read given {} key columns for {} join keys",
                     keys.size(), join_keys_.size());
  }
  for (const auto& column : keys) {
    if (column.size() != rows) {
      return MakeError(ErrorCode::kInternal, "online read given key columns of unequal length");
    }
  }
  out.rows_ = rows;
  out.columns_ = columns_;
  if (out.found_.size() < plans_.size()) out.found_.resize(plans_.size());
  if (out.key_bytes_.size() < rows) out.key_bytes_.resize(rows);
  out.key_views_.resize(rows);
  for (size_t v = 0; v < plans_.size(); ++v) {
    const ViewReadPlan& plan = plans_[v];
    for (size_t i = 0; i < rows; ++i) {
      std::string& key = out.key_bytes_[i];
      key.assign(plan.prefix);
      for (size_t k = 0; k < plan.key_columns.size(); ++k) {
        AppendKey(key, keys[plan.key_columns[k]][i], plan.key_types[k]);
      }
      out.key_views_[i] = key;
    }
    if (memory_only) {
      FALAJ_ASSIGN_OR_RETURN(bool answered, kv.MultiGetFromMemory(out.key_views_, out.found_[v]));
      if (!answered) return false;
    } else {
      FALAJ_RETURN_IF_ERROR(kv.MultiGet(out.key_views_, out.found_[v]));
    }
  }
  // Decoded only once every view is read, so a fallback after a partial read decodes nothing.
  out.statuses_.assign(plans_.size() * rows, FeatureStatus::kNotFound);
  out.events_.assign(plans_.size() * rows, 0);
  out.cells_.assign(rows * columns_, FeatureCell{});
  for (size_t v = 0; v < plans_.size(); ++v) DecodeView(v, now_micros, out);
  return true;
}

void PreparedRead::DecodeView(size_t index, int64_t now_micros, OnlineReadResult& out) const {
  const ViewReadPlan& plan = plans_[index];
  const storage::KvValues& found = out.found_[index];
  const std::span<const FeatureField> fields = plan.view->view.features;
  for (size_t i = 0; i < out.rows_; ++i) {
    if (!found.found(i)) continue;
    std::span<FeatureCell> cells(&out.cells_[i * columns_ + plan.first_column], plan.columns);
    int64_t event = 0;
    bool decoded = false;
    switch (plan.encoding) {
      case OnlineEncoding::kLatestRow:
        decoded =
            DecodeOnlineSelected(found.value(i), plan.layout, fields, plan.slots, event, cells);
        break;
      case OnlineEncoding::kAggregateTiles:
        decoded = DecodeAggregatesSelected(found.value(i), *plan.tiles, plan.view->view,
                                           plan.aggregates, plan.slots, now_micros, event, cells);
        break;
    }
    if (!decoded) {
      std::fill(cells.begin(), cells.end(), FeatureCell{});
      continue;
    }
    const size_t slot = index * out.rows_ + i;
    out.events_[slot] = event;
    if (plan.ttl_micros > 0 && event < now_micros - plan.ttl_micros) {
      out.statuses_[slot] = FeatureStatus::kOutsideMaxAge;
      std::fill(cells.begin(), cells.end(), FeatureCell{});
    } else {
      out.statuses_[slot] = FeatureStatus::kPresent;
      for (const auto& [from, to] : plan.repeats) cells[to] = cells[from];
    }
  }
}

}  // namespace falaj::features
