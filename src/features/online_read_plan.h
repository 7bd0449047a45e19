// Prepared online reads: everything about reading a set of resolved feature views that does not
// depend on the request — key prefixes, layout hashes, where each stored feature lands in the
// answer, TTLs, join-key types — computed once per resolution (features::OnlineFeatures caches
// it) and shared by the REST route and inference with features, so the read rules live here only:
//   - a request's join-key values are coerced to each key column's type (online_codec.h);
//   - a row of another layout reads as NOT_FOUND; a row older than now − ttl as OUTSIDE_MAX_AGE
//     (the offline join's rule at "now"), with its event time but no values;
//   - only the selected features are decoded, straight from the stored bytes.
// Each view carries its encoding so that a view kind with another value format can be given its
// own decoder.
//
// Thread-safe: a PreparedRead is immutable and may be read from any number of threads at once. An
// OnlineReadResult belongs to one thread at a time; reusing it across reads stops allocation.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "features/aggregate_tiles.h"
#include "features/feature_registry.h"
#include "features/online_codec.h"
#include "storage/kv_store.h"

namespace falaj::features {

enum class FeatureStatus { kPresent, kNotFound, kOutsideMaxAge };
// PRESENT, NOT_FOUND, OUTSIDE_MAX_AGE (Feast's names, so its users recognise them).
std::string_view FeatureStatusName(FeatureStatus status);

// How a view's online values are encoded, which picks the decoder.
// kLatestRow: the entity's latest row (online_codec.h); kAggregateTiles: an aggregation view's
// tiles (aggregate_tiles.h), answered at the time of the read.
enum class OnlineEncoding { kLatestRow, kAggregateTiles };

struct ViewReadPlan {
  const ResolvedView* view = nullptr;  // owned by the PreparedRead
  OnlineEncoding encoding = OnlineEncoding::kLatestRow;
  std::string prefix;                       // OnlineKeyPrefix(project, view)
  uint64_t layout = 0;                      // LayoutHash of the view's stored features
  std::vector<size_t> key_columns;          // per join key of the view: its index in join_keys()
  std::vector<data::ColumnType> key_types;  // per join key of the view: its stored type
  std::vector<int32_t> slots;  // per stored feature: its index among this view's columns, or -1
  // A feature selected twice ("v:a" and "v:*") is decoded once: (from, to) column copies.
  std::vector<std::pair<size_t, size_t>> repeats;
  size_t first_column = 0;  // the answer column of the view's first selected feature
  size_t columns = 0;       // how many features of the view are selected
  int64_t ttl_micros = 0;   // 0: values never expire
  // kAggregateTiles only: the tiles' layout, and per stored feature its aggregation and window.
  std::shared_ptr<const TileLayout> tiles;
  std::vector<AggregateFeature> aggregates;
};

// The answer to one read: per entity and answer column a cell; per view and entity a status and
// event time. Cells' text points into this object: valid until it is next filled or destroyed.
class OnlineReadResult {
 public:
  size_t rows() const { return rows_; }
  const FeatureCell& cell(size_t row, size_t column) const {
    return cells_[row * columns_ + column];
  }
  FeatureStatus status(size_t view, size_t row) const { return statuses_[view * rows_ + row]; }
  // 0 when not found.
  int64_t event_micros(size_t view, size_t row) const { return events_[view * rows_ + row]; }

 private:
  friend class PreparedRead;
  size_t rows_ = 0;
  size_t columns_ = 0;
  std::vector<storage::KvValues> found_;  // per view
  std::vector<FeatureStatus> statuses_;
  std::vector<int64_t> events_;
  std::vector<FeatureCell> cells_;
  std::vector<std::string> key_bytes_;  // scratch, kept for its capacity
  std::vector<std::string_view> key_views_;
};

class PreparedRead {
 public:
  PreparedRead(std::string_view project, std::shared_ptr<const std::vector<ResolvedView>> views);

  const std::vector<ResolvedView>& resolved() const { return *views_; }
  const std::vector<ViewReadPlan>& views() const { return plans_; }
  // Every view's join keys, each once, in the order the views name them.
  const std::vector<std::string>& join_keys() const { return join_keys_; }
  // Answer columns: every view's selected features, view by view.
  size_t columns() const { return columns_; }

  // Reads `rows` entities: keys[k][i] is join key k (of join_keys()) of entity i. With
  // `memory_only`, answers false and nothing else when a key would need disk or network I/O
  // (storage::KvStore::MultiGetFromMemory); otherwise true once `out` holds the answer.
  Result<bool> Read(storage::KvStore& kv, std::span<const std::span<const EntityKey>> keys,
                    size_t rows, int64_t now_micros, bool memory_only, OnlineReadResult& out) const;

 private:
  void DecodeView(size_t index, int64_t now_micros, OnlineReadResult& out) const;

  std::shared_ptr<const std::vector<ResolvedView>> views_;
  std::vector<ViewReadPlan> plans_;
  std::vector<std::string> join_keys_;
  size_t columns_ = 0;
};

}  // namespace falaj::features
