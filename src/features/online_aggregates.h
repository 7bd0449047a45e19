// The online side of aggregation views: materialisation and streaming merge a view's rows into
// each entity's tiles (aggregate_tiles.h) in the KvStore, and a prepared read (online_read_plan.h)
// answers every selected aggregate feature at "now" from them.
//
// Thread-safe: functions over a thread-safe KvStore. Two concurrent merges into one entity are a
// read-modify-write race (the later write wins); the materializer avoids it for its own runs, and
// what remains with streaming is described in docs/features.md.
#pragma once

#include <arrow/type_fwd.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "features/aggregate_tiles.h"
#include "features/feature_registry.h"
#include "features/online_codec.h"
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

// Decodes an entity's tiles and answers the aggregates a read selected at `now_micros`:
// `features` are the view's AggregateFeatures (one per stored feature) and `slots[f]` the cell of
// `out` that feature f fills, or -1. An empty window's mean, min and max are absent; its count
// and sum are 0. false when the bytes are not tiles of this layout (another definition).
bool DecodeAggregatesSelected(std::string_view bytes, const TileLayout& layout,
                              const FeatureView& view, std::span<const AggregateFeature> features,
                              std::span<const int32_t> slots, int64_t now_micros,
                              int64_t& event_micros, std::span<FeatureCell> out);

}  // namespace falaj::features
