// Point-in-time-correct (as-of) join of an entity table with feature views: the offline join
// that builds training sets (Feast's get_historical_features). For every entity row and every
// view it picks the latest feature row with the same join key whose event timestamp lies in
// [entity_ts - ttl, entity_ts], so no value from the future ever leaks into a training row.
//
// Thread-safety: PointInTimeJoin is a pure function; concurrent calls are safe. It only reads
// its input tables (Arrow tables are immutable) and runs its own worker threads, which have all
// finished when it returns.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace arrow {
class Table;
}  // namespace arrow

namespace falaj::features {

// One feature view's offline data. Timestamp columns are Arrow `timestamp` (any unit, with or
// without a time zone; compared as instants) or int64 microseconds since the Unix epoch.
struct FeatureViewData {
  // Names the view in output column names ("<name>__<feature>") and in errors. Not empty.
  std::string name;
  std::shared_ptr<arrow::Table> table;
  // Join-key columns; each must exist under the same name in the entity table. Keys are int32,
  // int64, utf8 or large_utf8; int32 matches int64 and utf8 matches large_utf8 by value.
  std::vector<std::string> join_keys;
  std::string event_timestamp_column = "event_timestamp";
  // Breaks ties on the event timestamp: the latest created timestamp wins (a null one loses to
  // any other). Empty when the view has no such column.
  std::string created_timestamp_column;
  // Columns to fetch, in output order; empty means every column that is not a join key or a
  // timestamp column named above.
  std::vector<std::string> features;
  // How far back a feature row stays valid: it matches only if entity_ts - ttl <= feature_ts.
  // Zero means unlimited. Must not be negative.
  std::chrono::nanoseconds ttl{0};
};

struct PointInTimeJoinOptions {
  // Event timestamp column of the entity table.
  std::string entity_timestamp_column = "event_timestamp";
  // Name output features "<view>__<feature>" instead of "<feature>".
  bool full_feature_names = false;
  // Upper bound on threads, the caller's included: views run in parallel, and each view's passes
  // split by rows and by key range over idle threads. 0 means std::thread::hardware_concurrency().
  int threads = 0;
};

// Joins `entities` (join keys, an event timestamp, any other columns) with each view.
//
// Returns a table with the entity rows in their original order: every entity column unchanged,
// then each view's feature columns in view order. For an entity row and a view, the chosen
// feature row has equal join keys and entity_ts - ttl <= feature_ts <= entity_ts; among those
// the largest feature_ts wins, then the largest created timestamp, then the row that comes later
// in the view table. With no such row every feature column of that view is null. A null join
// key or a null event timestamp, on either side, never matches.
//
// Fails with INVALID_ARGUMENT, naming the column and view, when a column is missing, a join key's
// type differs between the entity table and a view, a timestamp column has another type (or a
// value overflows int64 when converted to the other side's finer unit), a view is malformed (no
// name, table or join keys; negative TTL), or two output columns share a name (two views without
// full feature names, or a feature and an entity column). Fails with RESOURCE_EXHAUSTED when
// memory runs out or a view has 2^32 - 1 rows or more, and INTERNAL when Arrow fails.
//
// Cost for a view of F rows joined to E entity rows with K distinct keys, e and f rows per key:
// O(E + F + K) to map keys to dense ids (one hash per row for string, multi-column or sparse
// integer keys; none for one integer key whose range is at most max(2E, 4096)) and to bucket,
// O(sum of e log e) to sort entity rows by time within each key, O(sum of f log e) to merge the
// feature rows (never sorted within a key), and one Arrow Take of E indices per feature column.
// Scratch memory per view in flight: about 20 bytes per feature row, and per entity row about 40
// bytes plus 8 per integer or 16 per string join key; then the output.
Result<std::shared_ptr<arrow::Table>> PointInTimeJoin(const std::shared_ptr<arrow::Table>& entities,
                                                      std::span<const FeatureViewData> views,
                                                      const PointInTimeJoinOptions& options = {});

}  // namespace falaj::features
