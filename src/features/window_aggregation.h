// Windowed aggregations for training sets: for every entity row (join keys, time t) and every
// aggregate of a view — count, sum, mean, min or max of a column (or a count of rows) over a
// trailing window W — the aggregate of the view's rows with the same keys and
//   align(t) + g − W ≤ event_ts ≤ t,   align(t) = floor(t / g) · g,
// g being the view's aggregation interval (the online store's tile size, so the online answer at
// time t is the same). Never a row from the future, never one further back than W. An empty
// window gives count 0, sum 0, and null mean, min and max; null values are skipped (count of a
// column counts its non-null values); an entity row with a null key or time gets nulls.
//
// Cost, for a view of F rows and E entity rows: key ids as in the point-in-time join, a sort of
// both sides by (key, time), then per aggregate one pass of two pointers over each key's rows,
// with prefix sums (count, sum, mean) or a monotonic deque (min, max): O((E + F) log(E + F) +
// A · (E + F)) for A aggregates, never O(E · F).
//
// Thread-safe: a pure function over immutable Arrow tables.
#pragma once

#include <arrow/type_fwd.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "features/feature_definitions.h"

namespace falaj::features {

// The first instant (in the same ticks as t) the window of length `window` at time t covers.
inline int64_t WindowStart(int64_t t, int64_t interval, int64_t window) {
  int64_t tile = t / interval;
  if (t % interval < 0) --tile;  // floor, for times before the epoch
  return tile * interval + interval - window;
}

// A column to aggregate, flattened in row order: integers (int64, or timestamp ticks in the
// column's unit), floats (float64), or only non-null flags (any other type: count only).
struct AggregatedColumn {
  bool integer = true;
  bool count_only = false;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<uint8_t> valid;
  std::shared_ptr<arrow::DataType> type;
};

Result<AggregatedColumn> ReadAggregatedColumn(const arrow::ChunkedArray& column);

// One output column.
struct WindowAggregate {
  std::string name;
  std::string column;  // empty: count rows
  AggregateFunction function = AggregateFunction::kCount;
  std::chrono::seconds window{0};  // a positive multiple of the interval
};

struct WindowViewData {
  std::string name;  // names the view in errors
  std::shared_ptr<arrow::Table> table;
  std::vector<std::string> join_keys;  // as in FeatureViewData (point_in_time_join.h)
  std::string event_timestamp_column;
  std::chrono::seconds interval{60};
  std::vector<WindowAggregate> aggregates;
};

// The aggregates for every row of `entities`, one column per aggregate, rows in entity order.
// Aggregated columns are int64, float64 or timestamp (count also takes any other type).
// Timestamp columns are `timestamp` (any unit) or int64 µs. INVALID_ARGUMENT naming the column and
// view when a column is missing or of the wrong type, or join-key types differ.
Result<std::vector<std::shared_ptr<arrow::ChunkedArray>>> WindowAggregateJoin(
    const std::shared_ptr<arrow::Table>& entities, const std::string& entity_timestamp_column,
    const WindowViewData& view);

// The aggregates of an aggregation view's selected features (by name), in `selected` order.
std::vector<WindowAggregate> WindowAggregatesOf(const FeatureView& view,
                                                const std::vector<FeatureField>& selected);

}  // namespace falaj::features
