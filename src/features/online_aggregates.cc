#include "features/online_aggregates.h"

#include <arrow/api.h>

#include <unordered_map>

#include "features/aggregate_tiles.h"
#include "features/pit_keys.h"
#include "features/pit_timestamps.h"
#include "features/window_aggregation.h"

namespace falaj::features {
namespace {

constexpr size_t kWriteBatch = 10000;

int64_t ToMicros(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}

Result<std::shared_ptr<arrow::ChunkedArray>> RowsColumn(const arrow::Table& rows,
                                                        const std::string& name,
                                                        std::string_view view) {
  auto column = rows.GetColumnByName(name);
  if (!column) {
    return MakeError(ErrorCode::kInvalidArgument, "feature view '{}': rows lack column '{}'", view,
                     name);
  }
  return column;
}

// Event times in µs (any timestamp unit or int64 µs); null times clear `valid`.
Result<std::vector<int64_t>> EventMicros(const arrow::ChunkedArray& column, const std::string& name,
                                         const std::string& where, std::vector<uint8_t>& valid) {
  FALAJ_ASSIGN_OR_RETURN(int64_t ticks_per_second, pit::TicksPerSecond(column, name, where));
  std::vector<int64_t> micros;
  FALAJ_RETURN_IF_ERROR(pit::EntityTicks(column, 1, name, &micros, &valid));
  for (auto& tick : micros) {
    tick = ticks_per_second >= 1'000'000 ? tick / (ticks_per_second / 1'000'000)
                                         : tick * (1'000'000 / ticks_per_second);
  }
  return micros;
}

TileKind KindOf(const AggregatedColumn& column) {
  if (column.count_only) return TileKind::kCountOnly;
  return column.integer ? TileKind::kInt : TileKind::kFloat;
}

OnlineValue CellValue(const AggregatedColumn& column, int64_t row) {
  if (!column.valid[row]) return {};
  if (column.count_only) return int64_t{0};  // only counted
  if (column.integer) return column.ints[row];
  return column.floats[row];
}

}  // namespace

Result<int64_t> MergeAggregateRows(storage::KvStore& kv, std::string_view project,
                                   const ResolvedView& view, const arrow::Table& rows,
                                   int64_t first_version, int64_t last_version,
                                   std::chrono::system_clock::time_point now,
                                   storage::KvWriteMode mode) {
  const std::string& name = view.view.name;
  const std::string where = "feature view '" + name + "'";
  const TileLayout layout = TileLayoutOf(view.view);
  const int64_t now_micros = ToMicros(now);
  const int64_t oldest = WindowStart(now_micros, layout.interval_micros, layout.horizon_micros);
  std::vector<uint8_t> valid(rows.num_rows(), 1);
  FALAJ_ASSIGN_OR_RETURN(auto ts_column, RowsColumn(rows, view.view.timestamp_field, name));
  FALAJ_ASSIGN_OR_RETURN(auto micros,
                         EventMicros(*ts_column, view.view.timestamp_field, where, valid));
  std::vector<pit::KeyColumn> keys;
  for (const auto& key : view.join_keys) {
    FALAJ_ASSIGN_OR_RETURN(auto column, RowsColumn(rows, key, name));
    keys.push_back(pit::FlattenKey(*column, &valid));
  }
  std::vector<AggregatedColumn> columns;
  std::vector<TileKind> kinds;
  for (const auto& column_name : layout.columns) {
    FALAJ_ASSIGN_OR_RETURN(auto column, RowsColumn(rows, column_name, name));
    FALAJ_ASSIGN_OR_RETURN(auto flat, ReadAggregatedColumn(*column));
    kinds.push_back(KindOf(flat));
    columns.push_back(std::move(flat));
  }
  // Each entity's rows of this batch, as tiles of their own.
  std::unordered_map<std::string, TileState> batches;
  const std::string prefix = OnlineKeyPrefix(project, name);
  std::vector<OnlineValue> values(columns.size());
  for (int64_t row = 0; row < rows.num_rows(); ++row) {
    if (!valid[row] || micros[row] > now_micros || micros[row] < oldest) continue;
    std::string key = prefix;
    for (const auto& column : keys) {
      if (column.is_string) {
        AppendTextKey(key, column.strings[row]);
      } else {
        AppendIntKey(key, column.ints[row]);
      }
    }
    auto [state, inserted] = batches.try_emplace(std::move(key));
    if (inserted) state->second = TileState{first_version, last_version, 0, kinds, {}};
    for (size_t c = 0; c < columns.size(); ++c) values[c] = CellValue(columns[c], row);
    AddEvent(state->second, layout, micros[row], values);
  }
  std::vector<std::pair<const std::string*, TileState*>> pending;
  pending.reserve(batches.size());
  for (auto& [key, state] : batches) pending.emplace_back(&key, &state);
  storage::KvValues existing;
  int64_t written = 0;
  for (size_t begin = 0; begin < pending.size(); begin += kWriteBatch) {
    const size_t end = std::min(pending.size(), begin + kWriteBatch);
    std::vector<std::string_view> batch_keys;
    for (size_t i = begin; i < end; ++i) batch_keys.push_back(*pending[i].first);
    FALAJ_RETURN_IF_ERROR(kv.MultiGet(batch_keys, existing));
    std::vector<std::string> encoded;
    encoded.reserve(end - begin);
    std::vector<storage::KvEntry> puts;
    for (size_t i = begin; i < end; ++i) {
      std::optional<TileState> stored;
      if (existing.found(i - begin)) stored = DecodeTiles(existing.value(i - begin), layout);
      TileState combined = Combine(std::move(stored), std::move(*pending[i].second));
      Prune(combined, layout, now_micros);
      encoded.push_back(EncodeTiles(layout, combined));
      puts.push_back({*pending[i].first, encoded.back()});
    }
    FALAJ_RETURN_IF_ERROR(kv.Write(puts, mode));
    written += static_cast<int64_t>(puts.size());
  }
  return written;
}

bool DecodeAggregatesSelected(std::string_view bytes, const TileLayout& layout,
                              const FeatureView& view, std::span<const AggregateFeature> features,
                              std::span<const int32_t> slots, int64_t now_micros,
                              int64_t& event_micros, std::span<FeatureCell> out) {
  std::optional<TileState> state = DecodeTiles(bytes, layout);
  if (!state) return false;
  event_micros = state->latest_micros;
  for (size_t f = 0; f < features.size() && f < slots.size(); ++f) {
    if (slots[f] < 0) continue;
    const AggregateFeature& feature = features[f];
    const OnlineValue value =
        AggregateAt(*state, layout, now_micros, view.aggregations[feature.aggregation],
                    std::chrono::duration_cast<std::chrono::microseconds>(feature.window).count());
    FeatureCell& cell = out[static_cast<size_t>(slots[f])];
    cell = FeatureCell{};
    if (const auto* integer = std::get_if<int64_t>(&value)) {
      cell.present = true;
      cell.integer = *integer;
    } else if (const auto* real = std::get_if<double>(&value)) {
      cell.present = true;
      cell.real = *real;
    }
  }
  return true;
}

}  // namespace falaj::features
