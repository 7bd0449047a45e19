// The online feature store over a KvStore (RocksDB embedded, Redis for scale-out): per feature
// view, each entity's latest row, written by materialisation and by streaming ingest, read on the
// inference path. Writes keep the newest row per entity (by event time, then created time), so
// replays, out-of-order batches and concurrent writers converge on what an offline point-in-time
// join at "now" would pick. Reads apply the view's TTL exactly as the offline join does: a row
// older than now − ttl is returned as missing with status OUTSIDE_MAX_AGE.
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
#include "storage/kv_store.h"

namespace falaj::features {

enum class FeatureStatus { kPresent, kNotFound, kOutsideMaxAge };
// PRESENT, NOT_FOUND, OUTSIDE_MAX_AGE (Feast's names, so its users recognise them).
std::string_view FeatureStatusName(FeatureStatus status);

// The values of one join key for every requested entity, as they arrived (ints or strings).
struct EntityKeyColumn {
  std::string name;
  std::vector<OnlineValue> values;
};

// One requested feature across every entity, column-per-feature like Feast's answer.
struct OnlineFeatureColumn {
  std::string name;  // "feature" or "view__feature"
  data::ColumnType type = data::ColumnType::kFloat64;
  std::vector<OnlineValue> values;
  std::vector<FeatureStatus> statuses;
  std::vector<int64_t> event_micros;  // 0 when not found
};

class OnlineStore {
 public:
  explicit OnlineStore(storage::KvStore& kv) : kv_(kv) {}

  // Writes each entity's latest row of `rows` (which carry the view's join keys, timestamp
  // columns and features) unless the store already holds a newer one. Rows with a null key or
  // event time, or an event time after `now`, are skipped. Returns the number of entities written.
  Result<int64_t> WriteLatest(std::string_view project, const ResolvedView& view,
                              const arrow::Table& rows, std::chrono::system_clock::time_point now,
                              storage::KvWriteMode mode);
  // Looks up `entities` (every join key of every view must be present, all columns equally long)
  // and appends one column per selected feature of each view to `out`.
  Status Read(std::string_view project, const std::vector<ResolvedView>& views,
              const std::vector<EntityKeyColumn>& entities,
              std::chrono::system_clock::time_point now, bool full_feature_names,
              std::vector<OnlineFeatureColumn>& out);
  // Removes every row of a view (a dropped view, or a full rematerialisation).
  Result<uint64_t> DropView(std::string_view project, std::string_view view);
  // Removes one entity's row from each view (data-subject erasure); returns rows removed.
  Result<int64_t> EraseEntity(std::string_view project, const std::vector<ResolvedView>& views,
                              const std::vector<EntityKeyColumn>& entity);
  Status Flush() { return kv_.Flush(); }

 private:
  storage::KvStore& kv_;
};

}  // namespace falaj::features
