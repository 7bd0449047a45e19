// Windowed aggregations: the offline join against an O(n·m) brute force on random tables (ties,
// nulls, empty windows, events exactly on window boundaries, several keys); the online tiles
// (codec round trip, merge rules, KvStore merge and read) against the offline answer at the same
// time t.
#include "features/window_aggregation.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "features/aggregate_tiles.h"
#include "features/online_aggregates.h"
#include "features/online_read_plan.h"
#include "features/point_in_time_join_test_support.h"
#include "features/view_rows.h"
#include "storage/kv_store.h"

namespace falaj::features {
namespace {

using testing::Column;
using testing::Doubles;
using testing::Ints;
using testing::kNull;
using testing::MakeTable;

constexpr int64_t kSecond = 1'000'000;
constexpr int64_t kInterval = 60 * kSecond;
const auto kTimestamp = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");

struct Events {
  Column<int64_t> key, ts, amount, at;
  Column<double> score;
  std::shared_ptr<arrow::Table> Table() const {
    return MakeTable({{"customer_id", Ints(key)},
                      {"event_time", Ints(ts, kTimestamp)},
                      {"amount", Ints(amount)},
                      {"score", Doubles(score)},
                      {"seen_at", Ints(at, kTimestamp)}});
  }
};

// Times on a 30 s grid over a few hours: many ties, many exactly on tile and window boundaries.
Events RandomEvents(std::mt19937_64& rng, int rows, int keys) {
  Events events;
  for (int i = 0; i < rows; ++i) {
    auto maybe = [&](int64_t value) { return rng() % 7 == 0 ? std::optional<int64_t>() : value; };
    events.key.push_back(rng() % 40 == 0 ? kNull : std::optional<int64_t>(rng() % keys));
    events.ts.push_back(rng() % 50 == 0 ? kNull
                                        : std::optional<int64_t>((rng() % 600) * 30 * kSecond));
    events.amount.push_back(maybe(static_cast<int64_t>(rng() % 2000) - 500));
    events.score.push_back(rng() % 6 == 0 ? std::optional<double>()
                                          : std::ldexp(static_cast<double>(rng() % 100000), -7));
    events.at.push_back(maybe(static_cast<int64_t>(rng() % 1000000)));
  }
  return events;
}

FeatureView AggregationView() {
  FeatureView view;
  view.name = "spend";
  view.entities = {"customer"};
  view.source = "payments";
  view.timestamp_field = "event_time";
  view.aggregation_interval = std::chrono::seconds(60);
  view.aggregations = {{"amount", AggregateFunction::kSum, {"10m", "1h", "3h"}, ""},
                       {"amount", AggregateFunction::kCount, {"1h"}, ""},
                       {"", AggregateFunction::kCount, {"1h", "2h"}, ""},
                       {"amount", AggregateFunction::kMean, {"2h"}, ""},
                       {"amount", AggregateFunction::kMin, {"1h"}, ""},
                       {"amount", AggregateFunction::kMax, {"3h"}, ""},
                       {"score", AggregateFunction::kSum, {"1h"}, ""},
                       {"score", AggregateFunction::kMean, {"10m"}, ""},
                       {"score", AggregateFunction::kMax, {"2h"}, "top_score"},
                       {"seen_at", AggregateFunction::kMin, {"1h"}, ""}};
  data::TableSchema schema{{{"customer_id", data::ColumnType::kInt64, true, {}},
                            {"event_time", data::ColumnType::kTimestamp, true, {}},
                            {"amount", data::ColumnType::kInt64, true, {}},
                            {"score", data::ColumnType::kFloat64, true, {}},
                            {"seen_at", data::ColumnType::kTimestamp, true, {}}}};
  view.features = TypedAggregateFeatures(view, schema).value();
  return view;
}

// The brute force: every event checked against every entity row.
std::optional<double> BruteForce(const Events& events, std::optional<int64_t> key,
                                 std::optional<int64_t> t, const WindowAggregate& aggregate) {
  if (!key || !t) return std::nullopt;
  const int64_t from = WindowStart(*t, kInterval, aggregate.window.count() * kSecond);
  int64_t count = 0;
  double sum = 0;
  std::optional<double> lowest, highest;
  for (size_t i = 0; i < events.key.size(); ++i) {
    if (events.key[i] != key || !events.ts[i] || *events.ts[i] < from || *events.ts[i] > *t) {
      continue;
    }
    std::optional<double> value;
    if (aggregate.column == "amount" && events.amount[i]) value = *events.amount[i];
    if (aggregate.column == "score" && events.score[i]) value = *events.score[i];
    if (aggregate.column == "seen_at" && events.at[i]) value = *events.at[i];
    if (aggregate.column.empty()) value = 0;
    if (!value) continue;
    ++count;
    sum += *value;
    lowest = lowest ? std::min(*lowest, *value) : *value;
    highest = highest ? std::max(*highest, *value) : *value;
  }
  switch (aggregate.function) {
    case AggregateFunction::kCount:
      return count;
    case AggregateFunction::kSum:
      return sum;
    case AggregateFunction::kMean:
      return count ? std::optional<double>(sum / count) : std::nullopt;
    case AggregateFunction::kMin:
      return lowest;
    case AggregateFunction::kMax:
      return highest;
  }
  return std::nullopt;
}

std::optional<double> AsDouble(const arrow::ChunkedArray& column, int64_t row) {
  auto scalar = column.GetScalar(row).ValueOrDie();
  if (!scalar->is_valid) return std::nullopt;
  if (column.type()->id() == arrow::Type::DOUBLE) {
    return static_cast<const arrow::DoubleScalar&>(*scalar).value;
  }
  if (column.type()->id() == arrow::Type::TIMESTAMP) {
    return static_cast<double>(static_cast<const arrow::TimestampScalar&>(*scalar).value);
  }
  return static_cast<double>(static_cast<const arrow::Int64Scalar&>(*scalar).value);
}

void ExpectNear(std::optional<double> expected, std::optional<double> actual,
                const std::string& what) {
  ASSERT_EQ(expected.has_value(), actual.has_value()) << what;
  if (expected) {
    EXPECT_NEAR(*expected, *actual, 1e-9 * (1 + std::abs(*expected))) << what;
  }
}

WindowViewData ViewData(const FeatureView& view, std::shared_ptr<arrow::Table> table) {
  return {view.name,    std::move(table),          {"customer_id"},
          "event_time", view.aggregation_interval, WindowAggregatesOf(view, view.features)};
}

TEST(WindowAggregationTest, MatchesBruteForceOnRandomTables) {
  std::mt19937_64 rng(7);
  const FeatureView view = AggregationView();
  for (int round = 0; round < 12; ++round) {
    const int keys = 1 + static_cast<int>(rng() % 12);
    Events events = RandomEvents(rng, 50 + static_cast<int>(rng() % 700), keys);
    Column<int64_t> entity_key, entity_ts;
    for (int i = 0; i < 300; ++i) {
      entity_key.push_back(rng() % 30 == 0 ? kNull : std::optional<int64_t>(rng() % (keys + 2)));
      // Half on the event grid (boundaries, ties), half anywhere.
      const int64_t t = rng() % 2 ? (rng() % 700) * 30 * kSecond : rng() % (6 * 3600 * kSecond);
      entity_ts.push_back(rng() % 40 == 0 ? kNull : std::optional<int64_t>(t));
    }
    auto entities = testing::Rechunk(
        MakeTable({{"customer_id", Ints(entity_key)}, {"ts", Ints(entity_ts, kTimestamp)}}), rng);
    const auto data = ViewData(view, testing::Rechunk(events.Table(), rng));
    auto columns = WindowAggregateJoin(entities, "ts", data);
    ASSERT_TRUE(columns) << columns.error().message;
    ASSERT_EQ(columns->size(), data.aggregates.size());
    for (size_t a = 0; a < data.aggregates.size(); ++a) {
      for (int64_t row = 0; row < entities->num_rows(); ++row) {
        auto expected = BruteForce(events, entity_key[row], entity_ts[row], data.aggregates[a]);
        ExpectNear(expected, AsDouble(*(*columns)[a], row),
                   data.aggregates[a].name + " row " + std::to_string(row));
      }
    }
  }
}

TEST(WindowAggregationTest, WindowEdgesAreExact) {
  // Tile 60 s, window 2 min, at t = 150 s: align(t) = 120 s, so [60 s, 150 s].
  FeatureView view = AggregationView();
  view.aggregations = {{"", AggregateFunction::kCount, {"2m"}, ""}};
  view.features = {{"count_2m", data::ColumnType::kInt64}};
  Events events;
  for (int64_t ts : {59, 60, 61, 149, 150, 151}) {
    events.key.push_back(1);
    events.ts.push_back(ts * kSecond);
    events.amount.push_back(1);
    events.score.push_back(1);
    events.at.push_back(1);
  }
  auto entities = MakeTable(
      {{"customer_id", Ints({1, 1, 2, kNull})},
       {"ts", Ints({150 * kSecond, 119 * kSecond, 150 * kSecond, 150 * kSecond}, kTimestamp)}});
  auto columns = WindowAggregateJoin(entities, "ts", ViewData(view, events.Table()));
  ASSERT_TRUE(columns) << columns.error().message;
  // 150 s: 60, 61, 149, 150. 119 s: align 60 s, from 0 s: 59, 60, 61. Unknown key: 0. Null: null.
  const Column<int64_t> counts = testing::Read<arrow::Int64Array, int64_t>((*columns)[0]);
  EXPECT_EQ(counts, (Column<int64_t>{4, 3, 0, kNull}));
}

TEST(WindowAggregationTest, ErrorsNameTheColumn) {
  const FeatureView view = AggregationView();
  std::mt19937_64 rng(1);
  auto entities =
      MakeTable({{"customer_id", testing::Strings({"a"})}, {"ts", Ints({0}, kTimestamp)}});
  auto result =
      WindowAggregateJoin(entities, "ts", ViewData(view, RandomEvents(rng, 5, 2).Table()));
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("join key 'customer_id' is string"), std::string::npos)
      << result.error().message;
  auto missing =
      WindowAggregateJoin(entities, "when", ViewData(view, RandomEvents(rng, 5, 2).Table()));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "the entity table has no (unique) column 'when'");
}

// The tile cells of one event: amount, score, seen_at (null when absent).
std::vector<OnlineValue> Cells(std::optional<int64_t> amount, std::optional<double> score,
                               std::optional<int64_t> seen_at) {
  std::vector<OnlineValue> cells(3);
  if (amount) cells[0] = *amount;
  if (score) cells[1] = *score;
  if (seen_at) cells[2] = *seen_at;
  return cells;
}

OnlineValue Offline(const std::shared_ptr<arrow::ChunkedArray>& column, int64_t row) {
  auto value = AsDouble(*column, row);
  if (!value) return {};
  if (column->type()->id() == arrow::Type::DOUBLE) return *value;
  return static_cast<int64_t>(*value);
}

// The online answer from tiles equals the offline one at the same time t.
TEST(AggregateTilesTest, TilesAnswerLikeTheOfflineJoin) {
  std::mt19937_64 rng(11);
  const FeatureView view = AggregationView();
  const TileLayout layout = TileLayoutOf(view);
  const auto features = AggregateFeatures(view);
  for (int round = 0; round < 8; ++round) {
    Events events = RandomEvents(rng, 400, 5);
    const int64_t now = (rng() % (6 * 3600)) * kSecond + static_cast<int64_t>(rng() % 7);
    auto entities = MakeTable({{"customer_id", Ints({0, 1, 2, 3, 4})},
                               {"ts", Ints({now, now, now, now, now}, kTimestamp)}});
    auto offline = WindowAggregateJoin(entities, "ts", ViewData(view, events.Table()));
    ASSERT_TRUE(offline) << offline.error().message;
    for (int64_t key = 0; key < 5; ++key) {
      TileState state{1, 1, 0, {TileKind::kInt, TileKind::kFloat, TileKind::kInt}, {}};
      for (size_t i = 0; i < events.key.size(); ++i) {
        if (events.key[i] != key || !events.ts[i] || *events.ts[i] > now) continue;
        AddEvent(state, layout, *events.ts[i],
                 Cells(events.amount[i], events.score[i], events.at[i]));
      }
      Prune(state, layout, now);
      auto decoded = DecodeTiles(EncodeTiles(layout, state), layout);
      ASSERT_TRUE(decoded);
      for (size_t f = 0; f < features.size(); ++f) {
        const OnlineValue online =
            AggregateAt(*decoded, layout, now, view.aggregations[features[f].aggregation],
                        features[f].window.count() * kSecond);
        const OnlineValue expected = Offline((*offline)[f], key);
        ASSERT_EQ(online.index(), expected.index()) << features[f].name;
        if (const auto* real = std::get_if<double>(&online)) {
          EXPECT_NEAR(*real, std::get<double>(expected), 1e-9 * (1 + std::abs(*real)))
              << features[f].name;
        } else {
          EXPECT_EQ(online, expected) << features[f].name;
        }
      }
    }
  }
}

TEST(AggregateTilesTest, CodecRefusesOtherLayoutsAndDamage) {
  FeatureView view = AggregationView();
  const TileLayout layout = TileLayoutOf(view);
  TileState state{3, 5, 42, {TileKind::kInt, TileKind::kFloat, TileKind::kCountOnly}, {}};
  AddEvent(state, layout, 42, Cells(7, 1.5, 0));
  AddEvent(state, layout, 90 * kSecond, Cells(std::nullopt, 2.5, 0));
  const std::string bytes = EncodeTiles(layout, state);
  auto decoded = DecodeTiles(bytes, layout);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->first_version, 3);
  EXPECT_EQ(decoded->last_version, 5);
  EXPECT_EQ(decoded->latest_micros, 90 * kSecond);
  ASSERT_EQ(decoded->tiles.size(), 2u);
  EXPECT_EQ(decoded->tiles[1].start, 60 * kSecond);
  EXPECT_EQ(decoded->tiles[0].cells[0].int_sum, 7u);
  EXPECT_EQ(decoded->tiles[1].cells[0].count, 0);
  EXPECT_EQ(decoded->tiles[1].cells[1].float_max, 2.5);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(DecodeTiles(bytes.substr(0, cut), layout)) << cut;
  }
  view.aggregations[0].windows = {"10m", "1h", "4h"};
  EXPECT_FALSE(DecodeTiles(bytes, TileLayoutOf(view)));
  EXPECT_FALSE(DecodeTiles(bytes + "x", layout));
}

TEST(AggregateTilesTest, CombineSkipsReplaysAndReplacesRebuilds) {
  const TileLayout layout = TileLayoutOf(AggregationView());
  auto batch = [&](int64_t first, int64_t last, int64_t events) {
    TileState state{first, last, 0, {TileKind::kInt, TileKind::kFloat, TileKind::kInt}, {}};
    for (int64_t i = 0; i < events; ++i) {
      AddEvent(state, layout, i * kSecond, Cells(1, std::nullopt, std::nullopt));
    }
    return state;
  };
  auto rows = [](const TileState& state) {
    int64_t total = 0;
    for (const auto& tile : state.tiles) total += tile.rows;
    return total;
  };
  TileState state = Combine(std::nullopt, batch(2, 2, 3));
  state = Combine(state, batch(3, 3, 4));  // newer: added
  EXPECT_EQ(rows(state), 7);
  state = Combine(state, batch(3, 3, 4));  // a replay: skipped
  EXPECT_EQ(rows(state), 7);
  state = Combine(state, batch(1, 1, 2));  // older, never merged: added
  EXPECT_EQ(rows(state), 9);
  EXPECT_EQ(state.first_version, 1);
  EXPECT_EQ(state.last_version, 3);
  state = Combine(state, batch(1, 4, 20));  // a rebuild covering everything: replaces
  EXPECT_EQ(rows(state), 20);
}

TEST(OnlineAggregatesTest, MergedTilesReadLikeTheOfflineJoin) {
  auto directory =
      std::filesystem::temp_directory_path() / ("falaj-aggregates-" + std::to_string(::getpid()));
  std::filesystem::remove_all(directory);
  auto kv = storage::OpenKvStore("rocksdb://" + directory.string());
  ASSERT_TRUE(kv) << kv.error().message;
  std::mt19937_64 rng(5);
  ResolvedView view{AggregationView(), {"customer_id"}, {data::ColumnType::kInt64}, {}, 1};
  view.selected = view.view.features;
  Events first = RandomEvents(rng, 300, 6), second = RandomEvents(rng, 300, 6);
  const auto now = std::chrono::system_clock::time_point(std::chrono::hours(5));
  for (auto* events : {&first, &second}) {
    const int64_t version = events == &first ? 1 : 2;
    auto merged = MergeAggregateRows(**kv, "p", view, *events->Table(), version, version, now,
                                     storage::KvWriteMode::kSync);
    ASSERT_TRUE(merged) << merged.error().message;
  }
  // Version 1 again (an incremental run after streaming): must not double count.
  ASSERT_TRUE(
      MergeAggregateRows(**kv, "p", view, *first.Table(), 1, 1, now, storage::KvWriteMode::kSync));
  Events all = first;
  for (auto column : {&Events::key, &Events::ts, &Events::amount, &Events::at}) {
    (all.*column).insert((all.*column).end(), (second.*column).begin(), (second.*column).end());
  }
  all.score.insert(all.score.end(), second.score.begin(), second.score.end());
  const int64_t now_micros = 5 * 3600 * kSecond;
  auto entities = MakeTable({{"customer_id", Ints({0, 1, 2, 3, 4, 5, 99})},
                             {"ts", Ints(Column<int64_t>(7, now_micros), kTimestamp)}});
  auto offline = WindowAggregateJoin(entities, "ts", ViewData(view.view, all.Table()));
  ASSERT_TRUE(offline) << offline.error().message;
  // Keys as strings, as a JSON request may send them: coerced to the int64 key column.
  const std::vector<std::string> texts = {"0", "1", "2", "3", "4", "5", "99"};
  std::vector<EntityKey> keys;
  for (const auto& text : texts) keys.push_back({0, text, true});
  const std::span<const EntityKey> key_column(keys);
  PreparedRead read(
      "p", std::make_shared<const std::vector<ResolvedView>>(std::vector<ResolvedView>{view}));
  OnlineReadResult out;
  auto answered = read.Read(**kv, std::span(&key_column, 1), keys.size(), now_micros, false, out);
  ASSERT_TRUE(answered && *answered);
  ASSERT_EQ(read.columns(), view.selected.size());
  for (size_t f = 0; f < read.columns(); ++f) {
    for (size_t row = 0; row < keys.size(); ++row) {
      const bool known = row < 6;
      EXPECT_EQ(out.status(0, row), known ? FeatureStatus::kPresent : FeatureStatus::kNotFound);
      const FeatureCell& cell = out.cell(row, f);
      if (!known) {
        EXPECT_FALSE(cell.present);
        continue;
      }
      const OnlineValue expected = Offline((*offline)[f], static_cast<int64_t>(row));
      const std::string where = view.selected[f].name + " row " + std::to_string(row);
      if (const auto* real = std::get_if<double>(&expected)) {
        ASSERT_TRUE(cell.present) << where;
        EXPECT_NEAR(cell.real, *real, 1e-9 * (1 + std::abs(*real))) << where;
      } else if (const auto* integer = std::get_if<int64_t>(&expected)) {
        ASSERT_TRUE(cell.present) << where;
        EXPECT_EQ(cell.integer, *integer) << where;
      } else {
        EXPECT_FALSE(cell.present) << where;
      }
    }
  }
  kv->reset();
  std::filesystem::remove_all(directory);
}

}  // namespace
}  // namespace falaj::features
