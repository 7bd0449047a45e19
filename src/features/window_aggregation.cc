#include "features/window_aggregation.h"

#include <arrow/api.h>
#include <arrow/compute/api.h>

#include <algorithm>
#include <deque>
#include <map>
#include <numeric>

#include "data/arrow_status.h"
#include "features/pit_keys.h"
#include "features/pit_plan.h"
#include "features/pit_timestamps.h"

namespace falaj::features {

Result<AggregatedColumn> ReadAggregatedColumn(const arrow::ChunkedArray& column) {
  AggregatedColumn values;
  values.type = column.type();
  const auto id = column.type()->id();
  values.integer = id == arrow::Type::INT64 || id == arrow::Type::TIMESTAMP;
  values.count_only = !values.integer && id != arrow::Type::DOUBLE;
  if (!values.count_only) {
    (values.integer ? values.ints.resize(column.length()) : values.floats.resize(column.length()));
  }
  values.valid.reserve(column.length());
  for (const auto& chunk : column.chunks()) {
    for (int64_t i = 0; i < chunk->length(); ++i) {
      const size_t row = values.valid.size();
      values.valid.push_back(chunk->IsValid(i));
      if (values.count_only) continue;
      if (values.integer) {
        values.ints[row] = chunk->data()->GetValues<int64_t>(1)[i];
      } else {
        values.floats[row] = chunk->data()->GetValues<double>(1)[i];
      }
    }
  }
  return values;
}

namespace {

// Rows with a key and a time, bucketed by key id, each key's rows sorted by time.
struct Side {
  std::vector<uint32_t> ids;
  std::vector<int64_t> ticks;
  std::vector<int64_t> order;  // valid rows, by key then time
  std::vector<size_t> starts;  // key id k's rows are order[starts[k], starts[k + 1])
};

// A counting sort by key id (ids are dense), then a sort by time within each key: cheaper than
// one comparison sort of every row, and each key's rows end up contiguous.
void SortSide(Side& side, const std::vector<uint8_t>& valid, uint32_t keys) {
  side.starts.assign(static_cast<size_t>(keys) + 1, 0);
  for (size_t row = 0; row < valid.size(); ++row) {
    if (valid[row] && side.ids[row] != pit::kNoKey) ++side.starts[side.ids[row] + 1];
  }
  for (uint32_t k = 0; k < keys; ++k) side.starts[k + 1] += side.starts[k];
  std::vector<std::pair<int64_t, int64_t>> by_time(side.starts[keys]);  // (time, row)
  std::vector<size_t> next(side.starts.begin(), side.starts.end() - 1);
  for (size_t row = 0; row < valid.size(); ++row) {
    if (valid[row] && side.ids[row] != pit::kNoKey) {
      by_time[next[side.ids[row]]++] = {side.ticks[row], static_cast<int64_t>(row)};
    }
  }
  side.order.resize(by_time.size());
  for (uint32_t k = 0; k < keys; ++k) {
    std::sort(by_time.begin() + side.starts[k], by_time.begin() + side.starts[k + 1]);
    for (size_t i = side.starts[k]; i < side.starts[k + 1]; ++i) side.order[i] = by_time[i].second;
  }
}

// One output column under construction.
struct Output {
  bool integer = true;
  std::vector<int64_t> ints;
  std::vector<double> floats;
  std::vector<uint8_t> valid;
  std::shared_ptr<arrow::DataType> type;
};

// The aggregates of one key: `events` and `queries` are row numbers sorted by time.
class KeyAggregator {
 public:
  KeyAggregator(const Side& events, const Side& queries, int64_t interval)
      : events_(events), queries_(queries), interval_(interval) {}

  // Prefix counts and sums of one column (null: rows) over one key's events, for Run(). Integer
  // sums wrap (unsigned), so a window's difference is exact whenever its own sum fits in int64.
  void Prepare(std::span<const int64_t> events, const AggregatedColumn* values) {
    count_.assign(events.size() + 1, 0);
    int_sum_.assign(events.size() + 1, 0);
    float_sum_.assign(events.size() + 1, 0);
    for (size_t i = 0; i < events.size(); ++i) {
      const int64_t row = events[i];
      const bool counted = values ? values->valid[row] != 0 : true;
      count_[i + 1] = count_[i] + (counted ? 1 : 0);
      int_sum_[i + 1] = int_sum_[i];
      float_sum_[i + 1] = float_sum_[i];
      if (!values || !counted || values->count_only) continue;
      if (values->integer) {
        int_sum_[i + 1] += static_cast<uint64_t>(values->ints[row]);
      } else {
        float_sum_[i + 1] += values->floats[row];
      }
    }
  }

  // One aggregate of the column last prepared, for one key's entity rows.
  void Run(std::span<const int64_t> events, std::span<const int64_t> queries, int64_t window,
           AggregateFunction function, const AggregatedColumn* values, Output& out) {
    std::deque<size_t> extreme;  // indices into `events` whose values are monotonic
    const bool is_min = function == AggregateFunction::kMin;
    size_t lo = 0, hi = 0;
    for (int64_t query : queries) {
      const int64_t t = queries_.ticks[query];
      for (; hi < events.size() && events_.ticks[events[hi]] <= t; ++hi) {
        if (function != AggregateFunction::kMin && function != AggregateFunction::kMax) continue;
        if (!values->valid[events[hi]]) continue;
        while (!extreme.empty() && Beats(*values, events[hi], events[extreme.back()], is_min)) {
          extreme.pop_back();
        }
        extreme.push_back(hi);
      }
      const int64_t start = WindowStart(t, interval_, window);
      while (lo < hi && events_.ticks[events[lo]] < start) ++lo;
      while (!extreme.empty() && extreme.front() < lo) extreme.pop_front();
      const int64_t count = count_[hi] - count_[lo];
      out.valid[query] = 1;
      switch (function) {
        case AggregateFunction::kCount:
          out.ints[query] = count;
          break;
        case AggregateFunction::kSum:
          if (out.integer) {
            out.ints[query] = static_cast<int64_t>(int_sum_[hi] - int_sum_[lo]);
          } else {
            out.floats[query] = float_sum_[hi] - float_sum_[lo];
          }
          break;
        case AggregateFunction::kMean:
          out.valid[query] = count > 0;
          if (count > 0) out.floats[query] = Sum(*values, lo, hi) / static_cast<double>(count);
          break;
        case AggregateFunction::kMin:
        case AggregateFunction::kMax:
          out.valid[query] = !extreme.empty();
          if (extreme.empty()) break;
          if (out.integer) {
            out.ints[query] = values->ints[events[extreme.front()]];
          } else {
            out.floats[query] = values->floats[events[extreme.front()]];
          }
          break;
      }
    }
  }

 private:
  static bool Beats(const AggregatedColumn& values, int64_t a, int64_t b, bool is_min) {
    if (values.integer)
      return is_min ? values.ints[a] <= values.ints[b] : values.ints[a] >= values.ints[b];
    return is_min ? values.floats[a] <= values.floats[b] : values.floats[a] >= values.floats[b];
  }

  double Sum(const AggregatedColumn& values, size_t lo, size_t hi) const {
    return values.integer ? static_cast<double>(static_cast<int64_t>(int_sum_[hi] - int_sum_[lo]))
                          : float_sum_[hi] - float_sum_[lo];
  }

  const Side& events_;
  const Side& queries_;
  const int64_t interval_;
  std::vector<int64_t> count_;
  std::vector<uint64_t> int_sum_;
  std::vector<double> float_sum_;
};

Result<std::shared_ptr<arrow::ChunkedArray>> Finish(const Output& out) {
  std::shared_ptr<arrow::Array> array;
  if (out.integer) {
    arrow::NumericBuilder<arrow::Int64Type> builder;
    FALAJ_RETURN_IF_ERROR(
        data::FromArrow(builder.AppendValues(out.ints.data(), static_cast<int64_t>(out.ints.size()),
                                             out.valid.data()),
                        "building"));
    FALAJ_RETURN_IF_ERROR(data::FromArrow(builder.Finish(&array), "building"));
    if (!out.type->Equals(*arrow::int64())) {
      FALAJ_ASSIGN_OR_RETURN(array, data::FromArrow(array->View(out.type), "typing a column"));
    }
  } else {
    arrow::DoubleBuilder builder;
    FALAJ_RETURN_IF_ERROR(data::FromArrow(
        builder.AppendValues(out.floats.data(), static_cast<int64_t>(out.floats.size()),
                             out.valid.data()),
        "building"));
    FALAJ_RETURN_IF_ERROR(data::FromArrow(builder.Finish(&array), "building"));
  }
  return std::make_shared<arrow::ChunkedArray>(std::move(array));
}

}  // namespace

std::vector<WindowAggregate> WindowAggregatesOf(const FeatureView& view,
                                                const std::vector<FeatureField>& selected) {
  std::vector<WindowAggregate> aggregates;
  const auto features = AggregateFeatures(view);
  for (const auto& field : selected) {
    for (const auto& feature : features) {
      if (feature.name != field.name) continue;
      const Aggregation& aggregation = view.aggregations[feature.aggregation];
      aggregates.push_back(
          {feature.name, aggregation.column, aggregation.function, feature.window});
    }
  }
  return aggregates;
}

Result<std::vector<std::shared_ptr<arrow::ChunkedArray>>> WindowAggregateJoin(
    const std::shared_ptr<arrow::Table>& entities, const std::string& entity_timestamp_column,
    const WindowViewData& view) {
  const std::string where = "feature view '" + view.name + "'";
  if (!entities || !view.table || view.join_keys.empty() || view.interval.count() <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: malformed window aggregation", where);
  }
  FALAJ_ASSIGN_OR_RETURN(auto ets,
                         pit::Column(*entities, entity_timestamp_column, "the entity table"));
  FALAJ_ASSIGN_OR_RETURN(auto vts, pit::Column(*view.table, view.event_timestamp_column, where));
  FALAJ_ASSIGN_OR_RETURN(int64_t e_tps,
                         pit::TicksPerSecond(*ets, entity_timestamp_column, "the entity table"));
  FALAJ_ASSIGN_OR_RETURN(int64_t v_tps,
                         pit::TicksPerSecond(*vts, view.event_timestamp_column, where));
  const int64_t tps = std::max(e_tps, v_tps);
  Side queries, events;
  std::vector<uint8_t> e_valid(entities->num_rows(), 1), v_valid(view.table->num_rows(), 1);
  FALAJ_RETURN_IF_ERROR(
      pit::EntityTicks(*ets, tps / e_tps, entity_timestamp_column, &queries.ticks, &e_valid));
  FALAJ_RETURN_IF_ERROR(
      pit::EntityTicks(*vts, tps / v_tps, view.event_timestamp_column, &events.ticks, &v_valid));
  std::vector<pit::KeyColumn> e_keys, v_keys;
  for (const auto& key : view.join_keys) {
    FALAJ_ASSIGN_OR_RETURN(auto e_column, pit::Column(*entities, key, "the entity table"));
    FALAJ_ASSIGN_OR_RETURN(auto v_column, pit::Column(*view.table, key, where));
    const bool e_string = pit::IsStringKey(*e_column->type());
    if ((!e_string && !pit::IsIntKey(*e_column->type())) ||
        e_string != pit::IsStringKey(*v_column->type()) ||
        (!e_string && !pit::IsIntKey(*v_column->type()))) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "join key '{}' is {} in the entity table and {} in {}", key,
                       e_column->type()->ToString(), v_column->type()->ToString(), where);
    }
    e_keys.push_back(pit::FlattenKey(*e_column, &e_valid));
    v_keys.push_back(pit::FlattenKey(*v_column, &v_valid));
  }
  pit::KeyIds ids(e_keys, e_valid, &queries.ids);
  events.ids.resize(view.table->num_rows(), pit::kNoKey);
  for (size_t row = 0; row < v_valid.size(); ++row) {
    if (v_valid[row]) events.ids[row] = ids.Find(pit::FlatKey{&v_keys, row});
  }
  SortSide(queries, e_valid, ids.size());
  SortSide(events, v_valid, ids.size());

  // Columns read once however many aggregates use them.
  std::map<std::string, AggregatedColumn> values;
  std::vector<Output> outputs;
  for (const auto& aggregate : view.aggregates) {
    Output out;
    out.type = arrow::int64();
    if (!aggregate.column.empty()) {
      FALAJ_ASSIGN_OR_RETURN(auto column, pit::Column(*view.table, aggregate.column, where));
      if (!values.contains(aggregate.column)) {
        FALAJ_ASSIGN_OR_RETURN(values[aggregate.column], ReadAggregatedColumn(*column));
      }
      const auto found = values.find(aggregate.column);
      if (found->second.count_only && aggregate.function != AggregateFunction::kCount) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "{}: column '{}' is {}; only int64, float64 and timestamp columns can be "
                         "summed or ordered",
                         where, aggregate.column, column->type()->ToString());
      }
      if (aggregate.function == AggregateFunction::kMean) {
        out.integer = false;
        out.type = arrow::float64();
      } else if (aggregate.function != AggregateFunction::kCount) {
        out.integer = found->second.integer;
        out.type = found->second.type;
      }
    }
    const size_t rows = entities->num_rows();
    (out.integer ? out.ints.resize(rows) : out.floats.resize(rows));
    out.valid.assign(rows, 0);
    outputs.push_back(std::move(out));
  }

  // Aggregates grouped by column, so each key's prefix sums are built once per column.
  std::map<std::string, std::vector<size_t>> by_column;
  for (size_t a = 0; a < view.aggregates.size(); ++a) {
    by_column[view.aggregates[a].column].push_back(a);
  }
  KeyAggregator aggregator(events, queries, view.interval.count() * tps);
  for (uint32_t key = 0; key < ids.size(); ++key) {
    const std::span<const int64_t> key_queries(queries.order.data() + queries.starts[key],
                                               queries.starts[key + 1] - queries.starts[key]);
    if (key_queries.empty()) continue;
    const std::span<const int64_t> key_events(events.order.data() + events.starts[key],
                                              events.starts[key + 1] - events.starts[key]);
    for (const auto& [column, members] : by_column) {
      const auto value = values.find(column);
      const AggregatedColumn* flat = value == values.end() ? nullptr : &value->second;
      aggregator.Prepare(key_events, flat);
      for (size_t a : members) {
        aggregator.Run(key_events, key_queries, view.aggregates[a].window.count() * tps,
                       view.aggregates[a].function, flat, outputs[a]);
      }
    }
  }
  std::vector<std::shared_ptr<arrow::ChunkedArray>> columns;
  for (const auto& out : outputs) {
    FALAJ_ASSIGN_OR_RETURN(auto column, Finish(out));
    columns.push_back(std::move(column));
  }
  return columns;
}

}  // namespace falaj::features
