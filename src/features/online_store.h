// The online feature store over a KvStore (RocksDB embedded, Redis for scale-out): per feature
// view, each entity's latest row, written by materialisation and by streaming ingest, read on the
// inference path through a PreparedRead (online_read_plan.h). Writes keep the newest row per
// entity (by event time, then created time), so replays, out-of-order batches and concurrent
// writers converge on what an offline point-in-time join at "now" would pick.
//
// Thread-safe: every method may be called concurrently; state lives in the KvStore.
#pragma once

#include <arrow/type_fwd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "features/feature_registry.h"
#include "features/online_codec.h"
#include "features/online_read_plan.h"
#include "storage/kv_store.h"

namespace falaj::features {

// The values of one join key for every entity, as they arrived (ints or strings).
struct EntityKeyColumn {
  std::string name;
  std::vector<OnlineValue> values;
};

class OnlineStore {
 public:
  // Loads of fewer entities than this into an empty view go through ordinary batched writes: a
  // bulk-loaded table file has fixed costs (fsyncs, a manifest update) and many small files slow
  // reads.
  static constexpr size_t kDefaultBulkLoadMinEntities = 10000;

  // `bulk_load_min_entities`: see WriteLatest (SIZE_MAX never bulk-loads, for comparisons).
  explicit OnlineStore(storage::KvStore& kv,
                       size_t bulk_load_min_entities = kDefaultBulkLoadMinEntities)
      : kv_(kv), bulk_load_min_entities_(bulk_load_min_entities) {}

  // Writes each entity's latest row of `rows` (which carry the view's join keys, timestamp
  // columns and features) unless the store already holds a newer one. Rows with a null key or
  // event time, or an event time after `now`, are skipped. Returns the number of entities written.
  // With kBulk into a view that holds no rows yet (a first or full materialisation after
  // DropView) there is nothing to be newer than, so the stored rows are not read back, and from
  // bulk_load_min_entities entities on they are written with KvStore::BulkLoadSorted (durable on
  // return; RocksDB ingests table files).
  Result<int64_t> WriteLatest(std::string_view project, const ResolvedView& view,
                              const arrow::Table& rows, std::chrono::system_clock::time_point now,
                              storage::KvWriteMode mode);
  // Removes every row of a view (a dropped view, or a full rematerialisation).
  Result<uint64_t> DropView(std::string_view project, std::string_view view);
  // Removes one entity's row from each view (data-subject erasure); returns rows removed.
  Result<int64_t> EraseEntity(std::string_view project, const std::vector<ResolvedView>& views,
                              const std::vector<EntityKeyColumn>& entity);
  Status Flush() { return kv_.Flush(); }
  storage::KvStore& kv() { return kv_; }

 private:
  // Whether the store holds no row of the view.
  Result<bool> ViewIsEmpty(std::string_view prefix);

  storage::KvStore& kv_;
  const size_t bulk_load_min_entities_;
};

}  // namespace falaj::features
