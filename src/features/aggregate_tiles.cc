#include "features/aggregate_tiles.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "features/window_aggregation.h"

namespace falaj::features {
namespace {

constexpr uint8_t kFormat = 'A';
constexpr size_t kMaxColumns = 255;

uint64_t Fnv(uint64_t hash, std::string_view bytes) {
  for (unsigned char c : bytes) hash = (hash ^ c) * 0x100000001b3ULL;
  return (hash ^ 0xff) * 0x100000001b3ULL;  // a separator, so "ab","c" differs from "a","bc"
}

template <typename T>
void Put(std::string& out, T value) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8);
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

// Reads fixed-size fields from the front of `bytes`; any short read poisons the rest.
struct Cursor {
  std::string_view bytes;
  bool ok = true;
  template <typename T>
  T Get() {
    T value{};
    if (bytes.size() < sizeof(T)) {
      ok = false;
      return value;
    }
    std::memcpy(&value, bytes.data(), sizeof(T));
    bytes.remove_prefix(sizeof(T));
    return value;
  }
};

void MergeCell(TileCell& into, const TileCell& from, TileKind kind) {
  if (from.count == 0) return;
  const bool first = into.count == 0;
  into.count += from.count;
  if (kind == TileKind::kInt) {
    into.int_sum += from.int_sum;
    into.int_min = first ? from.int_min : std::min(into.int_min, from.int_min);
    into.int_max = first ? from.int_max : std::max(into.int_max, from.int_max);
  } else if (kind == TileKind::kFloat) {
    into.float_sum += from.float_sum;
    into.float_min = first ? from.float_min : std::min(into.float_min, from.float_min);
    into.float_max = first ? from.float_max : std::max(into.float_max, from.float_max);
  }
}

// `into` with `from`'s tiles added; both sorted by start.
void MergeTiles(TileState& into, const TileState& from) {
  std::vector<Tile> merged;
  merged.reserve(into.tiles.size() + from.tiles.size());
  size_t a = 0, b = 0;
  while (a < into.tiles.size() || b < from.tiles.size()) {
    if (b == from.tiles.size() ||
        (a < into.tiles.size() && into.tiles[a].start < from.tiles[b].start)) {
      merged.push_back(std::move(into.tiles[a++]));
    } else if (a == into.tiles.size() || from.tiles[b].start < into.tiles[a].start) {
      merged.push_back(from.tiles[b++]);
    } else {
      Tile tile = std::move(into.tiles[a++]);
      const Tile& other = from.tiles[b++];
      tile.rows += other.rows;
      for (size_t c = 0; c < tile.cells.size(); ++c) {
        MergeCell(tile.cells[c], other.cells[c], into.kinds[c]);
      }
      merged.push_back(std::move(tile));
    }
  }
  into.tiles = std::move(merged);
  into.latest_micros = std::max(into.latest_micros, from.latest_micros);
}

}  // namespace

TileLayout TileLayoutOf(const FeatureView& view) {
  TileLayout layout;
  layout.interval_micros = view.aggregation_interval.count() * 1'000'000;
  uint64_t hash = Fnv(0xcbf29ce484222325ULL, std::to_string(layout.interval_micros));
  for (const auto& feature : AggregateFeatures(view)) {
    layout.horizon_micros = std::max(layout.horizon_micros, feature.window.count() * 1'000'000);
  }
  for (const auto& aggregation : view.aggregations) {
    hash = Fnv(hash, aggregation.column);
    hash = Fnv(hash, AggregateFunctionName(aggregation.function));
    for (const auto& window : aggregation.windows) hash = Fnv(hash, window);
    if (!aggregation.column.empty() && std::find(layout.columns.begin(), layout.columns.end(),
                                                 aggregation.column) == layout.columns.end()) {
      layout.columns.push_back(aggregation.column);
    }
  }
  layout.hash = hash;
  return layout;
}

void AddEvent(TileState& state, const TileLayout& layout, int64_t event_micros,
              const std::vector<OnlineValue>& values) {
  const int64_t start = WindowStart(event_micros, layout.interval_micros, layout.interval_micros);
  auto tile = std::lower_bound(state.tiles.begin(), state.tiles.end(), start,
                               [](const Tile& t, int64_t s) { return t.start < s; });
  if (tile == state.tiles.end() || tile->start != start) {
    tile = state.tiles.insert(tile, Tile{start, 0, std::vector<TileCell>(layout.columns.size())});
  }
  ++tile->rows;
  for (size_t c = 0; c < values.size(); ++c) {
    TileCell one;
    one.count = 1;
    if (const auto* integer = std::get_if<int64_t>(&values[c])) {
      one.int_sum = static_cast<uint64_t>(*integer);
      one.int_min = one.int_max = *integer;
    } else if (const auto* real = std::get_if<double>(&values[c])) {
      one.float_sum = one.float_min = one.float_max = *real;
    } else if (std::holds_alternative<std::monostate>(values[c])) {
      continue;
    }
    MergeCell(tile->cells[c], one, state.kinds[c]);
  }
  state.latest_micros = std::max(state.latest_micros, event_micros);
}

TileState Combine(std::optional<TileState> existing, TileState batch) {
  if (!existing || existing->kinds != batch.kinds) return batch;
  if (batch.first_version > existing->last_version) {
    MergeTiles(*existing, batch);
    existing->last_version = batch.last_version;
    return std::move(*existing);
  }
  if (batch.last_version < existing->first_version) {
    MergeTiles(*existing, batch);
    existing->first_version = batch.first_version;
    return std::move(*existing);
  }
  if (batch.first_version >= existing->first_version &&
      batch.last_version <= existing->last_version) {
    return std::move(*existing);  // a replay
  }
  return batch;
}

void Prune(TileState& state, const TileLayout& layout, int64_t now_micros) {
  const int64_t oldest = WindowStart(now_micros, layout.interval_micros, layout.horizon_micros);
  auto keep = std::lower_bound(state.tiles.begin(), state.tiles.end(), oldest,
                               [](const Tile& t, int64_t s) { return t.start < s; });
  state.tiles.erase(state.tiles.begin(), keep);
}

std::string EncodeTiles(const TileLayout& layout, const TileState& state) {
  std::string out;
  out.reserve(40 + state.tiles.size() * (16 + state.kinds.size() * 32));
  Put(out, kFormat);
  Put(out, layout.hash);
  Put(out, state.first_version);
  Put(out, state.last_version);
  Put(out, state.latest_micros);
  Put(out, static_cast<uint8_t>(state.kinds.size()));
  for (auto kind : state.kinds) Put(out, static_cast<uint8_t>(kind));
  Put(out, static_cast<uint32_t>(state.tiles.size()));
  for (const auto& tile : state.tiles) {
    Put(out, tile.start);
    Put(out, tile.rows);
    for (size_t c = 0; c < state.kinds.size(); ++c) {
      const TileCell& cell = tile.cells[c];
      Put(out, cell.count);
      if (state.kinds[c] == TileKind::kInt) {
        Put(out, cell.int_sum);
        Put(out, cell.int_min);
        Put(out, cell.int_max);
      } else if (state.kinds[c] == TileKind::kFloat) {
        Put(out, cell.float_sum);
        Put(out, cell.float_min);
        Put(out, cell.float_max);
      }
    }
  }
  return out;
}

std::optional<TileState> DecodeTiles(std::string_view bytes, const TileLayout& layout) {
  Cursor in{bytes};
  if (in.Get<uint8_t>() != kFormat || in.Get<uint64_t>() != layout.hash || !in.ok) {
    return std::nullopt;
  }
  TileState state;
  state.first_version = in.Get<int64_t>();
  state.last_version = in.Get<int64_t>();
  state.latest_micros = in.Get<int64_t>();
  const size_t columns = in.Get<uint8_t>();
  if (!in.ok || columns != layout.columns.size() || columns > kMaxColumns) return std::nullopt;
  for (size_t c = 0; c < columns; ++c) {
    const uint8_t kind = in.Get<uint8_t>();
    if (kind > static_cast<uint8_t>(TileKind::kFloat)) return std::nullopt;
    state.kinds.push_back(static_cast<TileKind>(kind));
  }
  const uint32_t tiles = in.Get<uint32_t>();
  // Each tile takes at least 16 bytes: a damaged count must not reserve gigabytes.
  if (!in.ok || tiles > in.bytes.size() / 16) return std::nullopt;
  state.tiles.reserve(tiles);
  for (uint32_t t = 0; t < tiles && in.ok; ++t) {
    Tile tile{in.Get<int64_t>(), in.Get<int64_t>(), std::vector<TileCell>(columns)};
    for (size_t c = 0; c < columns; ++c) {
      TileCell& cell = tile.cells[c];
      cell.count = in.Get<int64_t>();
      if (state.kinds[c] == TileKind::kInt) {
        cell.int_sum = in.Get<uint64_t>();
        cell.int_min = in.Get<int64_t>();
        cell.int_max = in.Get<int64_t>();
      } else if (state.kinds[c] == TileKind::kFloat) {
        cell.float_sum = in.Get<double>();
        cell.float_min = in.Get<double>();
        cell.float_max = in.Get<double>();
      }
    }
    state.tiles.push_back(std::move(tile));
  }
  if (!in.ok || !in.bytes.empty()) return std::nullopt;
  return state;
}

OnlineValue AggregateAt(const TileState& state, const TileLayout& layout, int64_t now_micros,
                        const Aggregation& aggregation, int64_t window_micros) {
  const int64_t from = WindowStart(now_micros, layout.interval_micros, window_micros);
  const auto column = std::find(layout.columns.begin(), layout.columns.end(), aggregation.column);
  const size_t c = static_cast<size_t>(column - layout.columns.begin());
  const bool rows_only = aggregation.column.empty();
  const TileKind kind = rows_only ? TileKind::kCountOnly : state.kinds[c];
  TileCell total;
  int64_t rows = 0;
  for (const auto& tile : state.tiles) {
    if (tile.start < from || tile.start > now_micros) continue;
    rows += tile.rows;
    if (!rows_only) MergeCell(total, tile.cells[c], kind);
  }
  switch (aggregation.function) {
    case AggregateFunction::kCount:
      return rows_only ? rows : total.count;
    case AggregateFunction::kSum:
      if (kind == TileKind::kInt) return static_cast<int64_t>(total.int_sum);
      return total.float_sum;
    case AggregateFunction::kMean:
      if (total.count == 0) return {};
      return (kind == TileKind::kInt ? static_cast<double>(static_cast<int64_t>(total.int_sum))
                                     : total.float_sum) /
             static_cast<double>(total.count);
    case AggregateFunction::kMin:
    case AggregateFunction::kMax: {
      if (total.count == 0) return {};
      const bool is_min = aggregation.function == AggregateFunction::kMin;
      if (kind == TileKind::kInt) return is_min ? total.int_min : total.int_max;
      return is_min ? total.float_min : total.float_max;
    }
  }
  return {};
}

}  // namespace falaj::features
