// The online state of an aggregation view, per entity: its non-empty tiles (one per aggregation
// interval, `start` aligned to it) within the longest window, each with its row count and, per
// aggregated column, the non-null count and (for numeric and timestamp columns) sum, min and max —
// int64 sums in wrapping unsigned arithmetic, so they are exact whenever the window's sum fits.
// Windows are answered from whole tiles: with the window start align(t) + g − W a tile boundary,
// the tiles from there up to now hold exactly the events the offline join counts at t
// (window_aggregation.h). Also the dataset versions merged, so replays are skipped (Combine).
//
// Value layout (little-endian):
//   u8 'A' | u64 layout hash | i64 first version | i64 last version | i64 latest event µs |
//   u8 columns | u8 kind per column | u32 tiles | per tile: i64 start µs | i64 rows |
//   per column: i64 count, and unless its kind is count-only: 8-byte sum, min, max
// The layout hash covers the interval and the aggregations (columns, functions, windows), so
// bytes of another definition read as missing. Keys are the online store's (online_codec.h), so
// dropping a view and erasing an entity work unchanged.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "features/feature_definitions.h"
#include "features/online_codec.h"

namespace falaj::features {

enum class TileKind : uint8_t { kCountOnly = 0, kInt = 1, kFloat = 2 };

struct TileCell {
  int64_t count = 0;  // non-null values
  uint64_t int_sum = 0;
  int64_t int_min = 0, int_max = 0;
  double float_sum = 0, float_min = 0, float_max = 0;
};

struct Tile {
  int64_t start = 0;  // µs, a multiple of the interval
  int64_t rows = 0;
  std::vector<TileCell> cells;  // one per TileLayout column
};

// What a view's tiles hold: its distinct aggregated columns, in first-use order.
struct TileLayout {
  int64_t interval_micros = 0;
  int64_t horizon_micros = 0;  // the longest window
  std::vector<std::string> columns;
  uint64_t hash = 0;
};

TileLayout TileLayoutOf(const FeatureView& view);

struct TileState {
  int64_t first_version = 0;  // the dataset versions merged lie within [first, last]
  int64_t last_version = 0;
  int64_t latest_micros = 0;    // the latest event merged
  std::vector<TileKind> kinds;  // one per layout column
  std::vector<Tile> tiles;      // sorted by start, none empty
};

// Adds one event to `state` (whose kinds are set); `values` has one entry per layout column:
// monostate for null, int64_t or double.
void AddEvent(TileState& state, const TileLayout& layout, int64_t event_micros,
              const std::vector<OnlineValue>& values);

// Folds `batch` (rows of dataset versions [batch.first_version, batch.last_version]) into
// `existing`, which is absent for a new entity. Batches never overlap in versions except by
// replay: a batch within the versions already merged is skipped (it was merged before: streamed,
// then read again by an incremental run), a batch covering all of them replaces them (a full
// run's rebuild), a batch before or after them is added. A partial overlap can only come from a
// full run racing streamed batches; the batch then replaces the state (losing, never doubling,
// the streamed rows until the next full run).
TileState Combine(std::optional<TileState> existing, TileState batch);

// Drops tiles no window at `now_micros` or later can reach.
void Prune(TileState& state, const TileLayout& layout, int64_t now_micros);

std::string EncodeTiles(const TileLayout& layout, const TileState& state);
// nullopt for bytes of another layout or damaged bytes.
std::optional<TileState> DecodeTiles(std::string_view bytes, const TileLayout& layout);

// One feature's value at `now_micros` from the tiles: count (int64), sum (int64 for kInt,
// double for kFloat), mean (double), min / max (int64 or double); monostate when empty.
OnlineValue AggregateAt(const TileState& state, const TileLayout& layout, int64_t now_micros,
                        const Aggregation& aggregation, int64_t window_micros);

}  // namespace falaj::features
