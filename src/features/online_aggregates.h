// The online side of aggregation views: materialisation and streaming merge a view's rows into
// each entity's tiles (aggregate_tiles.h) in the KvStore, and reads answer every aggregate
// feature at "now" from them, in the same column-per-feature shape as OnlineStore::Read.
//
// Thread-safe: functions over a thread-safe KvStore. Two concurrent merges into one entity are a
// read-modify-write race (the later write wins); the materializer avoids it for its own runs, and
// what remains with streaming is described in docs/features.md.
#pragma once

#include <arrow/type_fwd.h>

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "features/feature_registry.h"
#include "features/online_store.h"
#include "storage/kv_store.h"

namespace falaj::features {

// Merges `rows` — the view's rows (after its transformations) of dataset versions
// [first_version, last_version] — into each entity's tiles, skipping rows with a null key or
// time, rows after `now`, and rows older than the view's longest window; tiles no window can
// reach any more are dropped. A batch whose versions an entity already merged is skipped
// (aggregate_tiles.h, Combine). Returns the number of entities written.
Result<int64_t> MergeAggregateRows(storage::KvStore& kv, std::string_view project,
                                   const ResolvedView& view, const arrow::Table& rows,
                                   int64_t first_version, int64_t last_version,
                                   std::chrono::system_clock::time_point now,
                                   storage::KvWriteMode mode);

// Appends one column per selected feature of an aggregation view to `out`, for each requested
// entity: PRESENT with the aggregate at `now` when the entity has tiles (event time: its latest
// event), NOT_FOUND with null otherwise. INVALID_ARGUMENT when a join key is missing or the key
// columns differ in length.
Status ReadAggregates(storage::KvStore& kv, std::string_view project, const ResolvedView& view,
                      const std::vector<EntityKeyColumn>& entities,
                      std::chrono::system_clock::time_point now, bool full_feature_names,
                      std::vector<OnlineFeatureColumn>& out);

// A requested join-key value as the key column's type stores it ("42" for a string key, 42 for
// an integer key), so request keys encode like materialised ones.
OnlineValue CoerceJoinKey(const OnlineValue& value, data::ColumnType type);

}  // namespace falaj::features
