// Tests for PointInTimeJoin: one hand-written case per rule and per error, and randomised tables
// checked against a brute-force reference that scans every feature row for every entity row.
#include "features/point_in_time_join.h"

#include <arrow/api.h>
#include <arrow/compute/api_vector.h>
#include <arrow/compute/initialize.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace falaj::features {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
template <typename T>
using Column = std::vector<std::optional<T>>;
constexpr std::nullopt_t kNull = std::nullopt;

// ---------------------------------------------------------------------------------------------
// Building tables.

template <typename Builder, typename T>
std::shared_ptr<arrow::Array> Build(const std::shared_ptr<arrow::DataType>& type,
                                    const Column<T>& values) {
  Builder builder(type, arrow::default_memory_pool());
  for (const auto& value : values) {
    EXPECT_TRUE((value ? builder.Append(*value) : builder.AppendNull()).ok());
  }
  return builder.Finish().ValueOrDie();
}

std::shared_ptr<arrow::Array> Ints(const Column<int64_t>& values,
                                   std::shared_ptr<arrow::DataType> type = arrow::int64()) {
  if (type->id() == arrow::Type::INT32) {
    Column<int32_t> narrow;
    for (const auto& v : values)
      narrow.push_back(v ? std::optional<int32_t>(static_cast<int32_t>(*v)) : kNull);
    return Build<arrow::Int32Builder>(type, narrow);
  }
  if (type->id() == arrow::Type::TIMESTAMP) return Build<arrow::TimestampBuilder>(type, values);
  return Build<arrow::Int64Builder>(type, values);
}
std::shared_ptr<arrow::Array> Strings(const Column<std::string>& values, bool large = false) {
  if (large) return Build<arrow::LargeStringBuilder>(arrow::large_utf8(), values);
  return Build<arrow::StringBuilder>(arrow::utf8(), values);
}
std::shared_ptr<arrow::Array> Doubles(const Column<double>& values) {
  return Build<arrow::DoubleBuilder>(arrow::float64(), values);
}

std::shared_ptr<arrow::Array> Json(const std::shared_ptr<arrow::DataType>& type,
                                   const std::string& json) {
  return arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
}

using NamedArray = std::pair<std::string, std::shared_ptr<arrow::Array>>;

std::shared_ptr<arrow::Table> MakeTable(const std::vector<NamedArray>& columns) {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::vector<std::shared_ptr<arrow::Array>> arrays;
  for (const auto& [name, array] : columns) {
    fields.push_back(arrow::field(name, array->type()));
    arrays.push_back(array);
  }
  return arrow::Table::Make(arrow::schema(fields), arrays);
}

// The same table with every column cut into random slices (an empty one now and then), each
// column differently, so row offsets and bitmap offsets inside chunks get exercised.
std::shared_ptr<arrow::Table> Rechunk(const std::shared_ptr<arrow::Table>& table,
                                      std::mt19937_64& rng) {
  std::vector<std::shared_ptr<arrow::ChunkedArray>> columns;
  for (const auto& column : table->columns()) {
    auto whole = arrow::Concatenate(column->chunks()).ValueOrDie();
    std::vector<std::shared_ptr<arrow::Array>> chunks;
    for (int64_t start = 0; start < whole->length();) {
      const int64_t length =
          rng() % 5 == 0 ? 0 : std::min<int64_t>(whole->length() - start, rng() % 700);
      chunks.push_back(whole->Slice(start, length));
      start += length;
    }
    columns.push_back(std::make_shared<arrow::ChunkedArray>(chunks, whole->type()));
  }
  return arrow::Table::Make(table->schema(), columns, table->num_rows());
}

template <typename ArrayType, typename T>
Column<T> Read(const std::shared_ptr<arrow::ChunkedArray>& column) {
  Column<T> out;
  for (const auto& chunk : column->chunks()) {
    const auto& array = static_cast<const ArrayType&>(*chunk);
    for (int64_t i = 0; i < array.length(); ++i) {
      if (array.IsNull(i)) {
        out.push_back(kNull);
      } else {
        out.push_back(T(array.GetView(i)));
      }
    }
  }
  return out;
}
Column<int64_t> ReadInts(const arrow::Table& table, const std::string& name) {
  return Read<arrow::Int64Array, int64_t>(table.GetColumnByName(name));
}

FeatureViewData View(std::string name, std::shared_ptr<arrow::Table> table) {
  FeatureViewData view;
  view.name = std::move(name);
  view.table = std::move(table);
  view.join_keys = {"id"};
  view.event_timestamp_column = "ts";
  return view;
}

Result<std::shared_ptr<arrow::Table>> Join(const std::shared_ptr<arrow::Table>& entities,
                                           std::vector<FeatureViewData> views,
                                           bool full_names = false) {
  PointInTimeJoinOptions options;
  options.entity_timestamp_column = "ts";
  options.full_feature_names = full_names;
  options.threads = 2;
  return PointInTimeJoin(entities, views, options);
}

// ---------------------------------------------------------------------------------------------
// One rule per test. Timestamps are int64 microseconds unless a test says otherwise.

std::shared_ptr<arrow::Table> Entities(const Column<int64_t>& ids, const Column<int64_t>& ts) {
  return MakeTable({{"id", Ints(ids)}, {"ts", Ints(ts)}});
}

TEST(PointInTimeJoinTest, TakesLatestPastValueAndNeverOneFromTheFuture) {
  auto features =
      MakeTable({{"id", Ints({1, 1, 1})}, {"ts", Ints({50, 100, 150})}, {"v", Ints({5, 10, 15})}});
  auto out = Join(Entities({1, 1, 1, 1}, {100, 99, 49, 1000}), {View("f", features)});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(ReadInts(**out, "v"), (Column<int64_t>{10, 5, kNull, 15}));
}

TEST(PointInTimeJoinTest, TtlBoundaryIsInclusive) {
  auto features = MakeTable({{"id", Ints({1})}, {"ts", Ints({90})}, {"v", Ints({7})}});
  auto view = View("f", features);
  view.ttl = std::chrono::microseconds(10);
  auto out = Join(Entities({1, 1, 1}, {100, 101, 90}), {view});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(ReadInts(**out, "v"), (Column<int64_t>{7, kNull, 7}));
}

TEST(PointInTimeJoinTest, TtlFinerThanTheTimeUnitRoundsDown) {
  const auto secs = arrow::timestamp(arrow::TimeUnit::SECOND);
  auto features =
      MakeTable({{"id", Ints({1, 2})}, {"ts", Ints({9, 8}, secs)}, {"v", Ints({1, 2})}});
  auto view = View("f", features);
  view.ttl = milliseconds(1500);  // 10 - 9 <= 1.5 s, 10 - 8 is not
  auto out = Join(MakeTable({{"id", Ints({1, 2})}, {"ts", Ints({10, 10}, secs)}}), {view});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(ReadInts(**out, "v"), (Column<int64_t>{1, kNull}));
}

TEST(PointInTimeJoinTest, ZeroTtlIsUnlimited) {
  auto features =
      MakeTable({{"id", Ints({1})}, {"ts", Ints({-1'000'000'000'000})}, {"v", Ints({3})}});
  auto out = Join(Entities({1}, {1'000'000'000'000}), {View("f", features)});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(ReadInts(**out, "v"), (Column<int64_t>{3}));
}

TEST(PointInTimeJoinTest, LatestCreatedTimestampBreaksTies) {
  auto features = MakeTable({{"id", Ints({1, 1, 1, 2, 2})},
                             {"ts", Ints({10, 10, 10, 10, 10})},
                             {"created", Ints({7, 9, kNull, kNull, 1})},
                             {"v", Ints({1, 2, 3, 4, 5})}});
  auto view = View("f", features);
  view.created_timestamp_column = "created";
  auto out = Join(Entities({1, 2}, {10, 10}), {view});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(ReadInts(**out, "v"), (Column<int64_t>{2, 5}));  // a null created loses
  EXPECT_EQ((*out)->num_columns(), 3);                       // created is not a feature
}

TEST(PointInTimeJoinTest, LaterRowBreaksRemainingTies) {
  auto features = MakeTable({{"id", Ints({1, 1, 1, 2, 2})},
                             {"ts", Ints({10, 10, 5, 10, 10})},
                             {"created", Ints({4, 4, 9, kNull, kNull})},
                             {"v", Ints({1, 2, 3, 4, 5})}});
  auto view = View("f", features);
  view.created_timestamp_column = "created";
  auto without_created =
      View("g", MakeTable({{"id", Ints({1, 1})}, {"ts", Ints({3, 3})}, {"w", Ints({8, 9})}}));
  auto out = Join(Entities({1, 2}, {10, 10}), {view, without_created});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(ReadInts(**out, "v"), (Column<int64_t>{2, 5}));
  EXPECT_EQ(ReadInts(**out, "w"), (Column<int64_t>{9, kNull}));
}

TEST(PointInTimeJoinTest, NoMatchIsNullInEveryFeatureColumn) {
  auto features = MakeTable({{"id", Ints({1})},
                             {"ts", Ints({10})},
                             {"a", Ints({1})},
                             {"b", Strings({"x"})},
                             {"c", Doubles({0.5})}});
  auto out = Join(Entities({2, 1}, {10, 10}), {View("f", features)});
  ASSERT_TRUE(out) << out.error().message;
  for (const char* name : {"a", "b", "c"}) {
    const auto column = (*out)->GetColumnByName(name);
    EXPECT_FALSE(column->GetScalar(0).ValueOrDie()->is_valid) << name;
    EXPECT_TRUE(column->GetScalar(1).ValueOrDie()->is_valid) << name;
  }
}

TEST(PointInTimeJoinTest, NullKeysAndTimestampsNeverMatch) {
  auto features = MakeTable(
      {{"id", Ints({1, kNull, 3})}, {"ts", Ints({10, 10, kNull})}, {"v", Ints({1, 2, 3})}});
  auto out = Join(Entities({1, kNull, 1, 3}, {20, 20, kNull, 20}), {View("f", features)});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(ReadInts(**out, "v"), (Column<int64_t>{1, kNull, kNull, kNull}));
}

TEST(PointInTimeJoinTest, ComparesTimestampsAsInstantsAcrossUnitsAndZones) {
  auto secs = arrow::timestamp(arrow::TimeUnit::SECOND, "UTC");
  auto nanos = arrow::timestamp(arrow::TimeUnit::NANO, "Asia/Dubai");
  auto features = MakeTable({{"id", Ints({1, 2})},
                             {"ts", Ints({10'000'000'000, 10'000'000'001}, nanos)},
                             {"v", Ints({1, 2})}});
  auto out =
      Join(MakeTable({{"id", Ints({1, 2})}, {"ts", Ints({10, 10}, secs)}}), {View("f", features)});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(ReadInts(**out, "v"), (Column<int64_t>{1, kNull}));  // one nanosecond in the future
}

TEST(PointInTimeJoinTest, MultiColumnKeysAcrossWidthsAndStringTypes) {
  auto entities = MakeTable({{"id", Ints({1, 1, 2}, arrow::int32())},
                             {"city", Strings({"a", "b", "a"})},
                             {"ts", Ints({10, 10, 10})},
                             {"carried", Strings({"x", "y", "z"})}});
  auto features = MakeTable({{"city", Strings({"b", "a", "a"}, /*large=*/true)},
                             {"id", Ints({1, 1, 3})},
                             {"ts", Ints({1, 2, 3})},
                             {"v", Ints({1, 2, 3})}});
  auto view = View("f", features);
  view.join_keys = {"id", "city"};
  auto out = Join(entities, {view}, /*full_names=*/true);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ((*out)->schema()->field_names(),
            (std::vector<std::string>{"id", "city", "ts", "carried", "f__v"}));
  EXPECT_EQ(ReadInts(**out, "f__v"), (Column<int64_t>{2, 1, kNull}));
  EXPECT_TRUE((*out)->GetColumnByName("carried")->Equals(*entities->GetColumnByName("carried")));
}

TEST(PointInTimeJoinTest, SparseIntegerKeysUseTheHashPath) {
  const int64_t big = int64_t{1} << 60;
  auto features =
      MakeTable({{"id", Ints({-big, big, 0})}, {"ts", Ints({1, 1, 1})}, {"v", Ints({1, 2, 3})}});
  auto out = Join(Entities({big, 0, -big, 5}, {1, 1, 1, 1}), {View("f", features)});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(ReadInts(**out, "v"), (Column<int64_t>{2, 3, 1, kNull}));
}

TEST(PointInTimeJoinTest, GathersEveryFeatureType) {
  auto ids = Ints({1, 2, 3});
  auto dict = arrow::json::DictArrayFromJSONString(arrow::dictionary(arrow::int8(), arrow::utf8()),
                                                   "[0, 1, null]", R"(["p", "q"])");
  auto features = MakeTable({{"id", ids},
                             {"ts", Ints({1, 1, 1})},
                             {"flag", Json(arrow::boolean(), "[true, false, null]")},
                             {"list", Json(arrow::list(arrow::int32()), "[[1, 2], null, []]")},
                             {"dec", Json(arrow::decimal128(10, 2), R"(["1.25", null, "3.50"])")},
                             {"fsb", Json(arrow::fixed_size_binary(3), R"(["abc", "def", null])")},
                             {"i8", Json(arrow::int8(), "[1, null, 3]")},
                             {"f32", Json(arrow::float32(), "[1.5, 2.5, null]")},
                             {"day", Json(arrow::date32(), "[1, 2, 3]")},
                             {"dict", dict.ValueOrDie()}});
  std::mt19937_64 rng(7);
  auto out = Join(Entities({3, 9, 1, 2, 3}, {1, 1, 1, 1, 0}), {View("f", Rechunk(features, rng))});
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_TRUE(arrow::compute::Initialize().ok());
  auto picks = Ints({2, kNull, 0, 1, kNull});
  for (const auto& name : features->schema()->field_names()) {
    if (name == "id" || name == "ts") continue;
    auto expected =
        arrow::compute::Take(features->GetColumnByName(name), picks).ValueOrDie().chunked_array();
    EXPECT_TRUE((*out)->GetColumnByName(name)->Equals(*expected))
        << name << ": " << (*out)->GetColumnByName(name)->ToString();
  }
}

TEST(PointInTimeJoinTest, EmptyInputs) {
  auto features = MakeTable({{"id", Ints({})}, {"ts", Ints({})}, {"v", Ints({})}});
  auto out = Join(Entities({1}, {1}), {View("f", features)});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(ReadInts(**out, "v"), (Column<int64_t>{kNull}));
  out = Join(Entities({}, {}), {View("f", features)});
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ((*out)->num_rows(), 0);
}

// ---------------------------------------------------------------------------------------------
// Errors.

void ExpectInvalid(const Result<std::shared_ptr<arrow::Table>>& result,
                   std::vector<std::string> parts) {
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  for (const auto& part : parts)
    EXPECT_NE(result.error().message.find(part), std::string::npos) << result.error().message;
}

std::shared_ptr<arrow::Table> SimpleFeatures() {
  return MakeTable({{"id", Ints({1})}, {"ts", Ints({1})}, {"v", Ints({1})}});
}

TEST(PointInTimeJoinErrorsTest, MissingColumns) {
  auto entities = Entities({1}, {1});
  ExpectInvalid(Join(MakeTable({{"ts", Ints({1})}}), {View("f", SimpleFeatures())}),
                {"entity table", "'id'"});
  ExpectInvalid(Join(MakeTable({{"id", Ints({1})}}), {View("f", SimpleFeatures())}),
                {"entity table", "'ts'"});
  auto view = View("f", MakeTable({{"ts", Ints({1})}, {"v", Ints({1})}}));
  ExpectInvalid(Join(entities, {view}), {"feature view 'f'", "'id'"});
  view = View("f", SimpleFeatures());
  view.event_timestamp_column = "when";
  ExpectInvalid(Join(entities, {view}), {"feature view 'f'", "'when'"});
  view = View("f", SimpleFeatures());
  view.created_timestamp_column = "made";
  ExpectInvalid(Join(entities, {view}), {"feature view 'f'", "'made'"});
  view = View("f", SimpleFeatures());
  view.features = {"v", "nope"};
  ExpectInvalid(Join(entities, {view}), {"feature view 'f'", "'nope'"});
}

TEST(PointInTimeJoinErrorsTest, KeyTypeMismatch) {
  auto view = View("f", MakeTable({{"id", Strings({"1"})}, {"ts", Ints({1})}, {"v", Ints({1})}}));
  ExpectInvalid(Join(Entities({1}, {1}), {view}),
                {"join key 'id'", "int64", "string", "feature view 'f'"});
  view = View("f", MakeTable({{"id", Doubles({1})}, {"ts", Ints({1})}, {"v", Ints({1})}}));
  ExpectInvalid(Join(Entities({1}, {1}), {view}), {"join key 'id'", "double", "feature view 'f'"});
}

TEST(PointInTimeJoinErrorsTest, BadTimestampTypes) {
  auto view = View("f", MakeTable({{"id", Ints({1})}, {"ts", Strings({"x"})}, {"v", Ints({1})}}));
  ExpectInvalid(Join(Entities({1}, {1}), {view}),
                {"'ts'", "feature view 'f'", "timestamp or int64"});
  auto entities = MakeTable({{"id", Ints({1})}, {"ts", Doubles({1})}});
  ExpectInvalid(Join(entities, {View("f", SimpleFeatures())}),
                {"'ts'", "entity table", "timestamp or int64"});
  view = View("f", SimpleFeatures());
  view.created_timestamp_column = "v2";
  view.table = MakeTable({{"id", Ints({1})}, {"ts", Ints({1})}, {"v2", Ints({1}, arrow::int32())}});
  ExpectInvalid(Join(Entities({1}, {1}), {view}), {"'v2'", "feature view 'f'"});
}

TEST(PointInTimeJoinErrorsTest, TimestampOverflowWhenScaledToTheFinerUnit) {
  auto nanos = arrow::timestamp(arrow::TimeUnit::NANO);
  auto view = View("f", MakeTable({{"id", Ints({1})}, {"ts", Ints({1}, nanos)}, {"v", Ints({1})}}));
  ExpectInvalid(Join(Entities({1}, {int64_t{1} << 62}), {view}),
                {"'ts'", "entity table", "overflows"});
}

TEST(PointInTimeJoinErrorsTest, NameClashes) {
  auto entities = Entities({1}, {1});
  ExpectInvalid(Join(entities, {View("a", SimpleFeatures()), View("b", SimpleFeatures())}),
                {"'v'", "feature view 'a'", "feature view 'b'"});
  EXPECT_TRUE(Join(entities, {View("a", SimpleFeatures()), View("b", SimpleFeatures())}, true));
  auto clash = MakeTable({{"id", Ints({1})}, {"ts", Ints({1})}, {"v", Ints({1})}});
  ExpectInvalid(Join(clash, {View("a", SimpleFeatures())}),
                {"'v'", "entity table", "feature view 'a'"});
}

TEST(PointInTimeJoinErrorsTest, BadViewDefinitions) {
  auto entities = Entities({1}, {1});
  auto view = View("f", SimpleFeatures());
  view.ttl = seconds(-1);
  ExpectInvalid(Join(entities, {view}), {"feature view 'f'", "ttl"});
  view = View("f", nullptr);
  ExpectInvalid(Join(entities, {view}), {"feature view 'f'", "no table"});
  view = View("f", SimpleFeatures());
  view.join_keys.clear();
  ExpectInvalid(Join(entities, {view}), {"feature view 'f'", "join keys"});
  ExpectInvalid(Join(nullptr, {}), {"entity table"});
}

// ---------------------------------------------------------------------------------------------
// Randomised tables against a brute-force reference.

enum class TsKind { kMicrosInt64, kMillisUtc, kNanos };

std::shared_ptr<arrow::Array> Timestamps(const Column<int64_t>& millis, TsKind kind) {
  Column<int64_t> scaled;
  const int64_t factor = kind == TsKind::kMicrosInt64 ? 1'000
                         : kind == TsKind::kMillisUtc ? 1
                                                      : 1'000'000;
  for (const auto& ms : millis) scaled.push_back(ms ? std::optional<int64_t>(*ms * factor) : kNull);
  if (kind == TsKind::kMicrosInt64) return Ints(scaled);
  if (kind == TsKind::kMillisUtc)
    return Ints(scaled, arrow::timestamp(arrow::TimeUnit::MILLI, "UTC"));
  return Ints(scaled, arrow::timestamp(arrow::TimeUnit::NANO));
}

struct RandomCase {
  uint64_t seed = 0;
  int entity_rows = 0;
  int feature_rows = 0;  // per view
  int keys = 0;          // distinct values per key column
  int64_t ts_range_ms = 0;
  int64_t int_key_scale = 1;  // large values push single integer keys off the dense path
  TsKind entity_ts = TsKind::kMicrosInt64;
  TsKind view_ts = TsKind::kMicrosInt64;
  int threads = 2;
};

// Plain rows of one side: the joined key as a string (nullopt if any part is null), ms instants.
struct PlainSide {
  Column<std::string> key;
  Column<int64_t> ts;
  Column<int64_t> created;
};

// Three views: on the int64 key (TTL, created), on the string key (no created), and on both
// (TTL, created). The entity table carries its row number and a string.
struct RandomTables {
  std::shared_ptr<arrow::Table> entities;
  std::vector<FeatureViewData> views;
  std::vector<PlainSide> entity_plain;  // per view: the entity side as that view sees it
  std::vector<PlainSide> view_plain;
};

template <typename T>
std::optional<T> Maybe(std::mt19937_64& rng, double null_share, T value) {
  return std::uniform_real_distribution<>(0, 1)(rng) < null_share ? std::nullopt
                                                                  : std::optional<T>(value);
}

// Random join keys (int64 and string) and ms timestamps, 3% null each.
struct RandomKeys {
  Column<int64_t> ints;
  Column<std::string> strs;
  Column<int64_t> ts;
};

RandomKeys MakeKeys(const RandomCase& c, int rows, std::mt19937_64& rng) {
  RandomKeys keys;
  for (int i = 0; i < rows; ++i) {
    const int64_t value = static_cast<int64_t>(rng() % c.keys);
    keys.ints.push_back(Maybe<int64_t>(rng, 0.03, value * c.int_key_scale));
    keys.strs.push_back(Maybe<std::string>(rng, 0.03, "k" + std::to_string(rng() % c.keys)));
    keys.ts.push_back(Maybe<int64_t>(rng, 0.03, static_cast<int64_t>(rng() % c.ts_range_ms)));
  }
  return keys;
}

// The plain side of `keys` for a view joining on the int key, the string key or both.
PlainSide Plain(const RandomKeys& keys, bool use_int, bool use_str) {
  PlainSide plain;
  for (size_t i = 0; i < keys.ts.size(); ++i) {
    const bool null = (use_int && !keys.ints[i]) || (use_str && !keys.strs[i]);
    plain.key.push_back(null ? std::optional<std::string>()
                             : (use_int ? std::to_string(*keys.ints[i]) : "") + "|" +
                                   (use_str ? *keys.strs[i] : ""));
  }
  plain.ts = keys.ts;
  plain.created.assign(keys.ts.size(), kNull);
  return plain;
}

// View v of RandomTables, and its plain side.
FeatureViewData MakeView(const RandomCase& c, size_t v, std::mt19937_64& rng, PlainSide* plain) {
  const bool use_int = v != 1, use_str = v != 0, with_created = v != 1;
  const RandomKeys keys = MakeKeys(c, c.feature_rows, rng);
  Column<int64_t> created, tags;
  Column<double> scores;
  for (int i = 0; i < c.feature_rows; ++i) {
    created.push_back(Maybe<int64_t>(rng, 0.1, static_cast<int64_t>(rng() % 4)));
    tags.push_back(i);
    scores.push_back(Maybe<double>(rng, 0.2, static_cast<double>(rng() % 1000) / 8));
  }
  std::vector<NamedArray> columns = {{"event_timestamp", Timestamps(keys.ts, c.view_ts)},
                                     {"tag", Ints(tags)},
                                     {"score", Doubles(scores)},
                                     {"label", Strings(keys.strs)}};
  if (use_int) columns.push_back({"k_int", Ints(keys.ints)});
  if (use_str) columns.push_back({"k_str", Strings(keys.strs, /*large=*/v == 1)});
  const auto micros_utc = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  if (with_created) columns.push_back({"created", Ints(created, micros_utc)});
  FeatureViewData view;
  view.name = "v" + std::to_string(v);
  view.table = Rechunk(MakeTable(columns), rng);
  view.join_keys = use_int && use_str ? std::vector<std::string>{"k_str", "k_int"}
                   : use_int          ? std::vector<std::string>{"k_int"}
                                      : std::vector<std::string>{"k_str"};
  view.created_timestamp_column = with_created ? "created" : "";
  view.features = {"tag", "score", "label"};
  view.ttl = v != 1 ? milliseconds(c.ts_range_ms / 5) : milliseconds(0);
  *plain = Plain(keys, use_int, use_str);
  if (with_created) plain->created = created;
  return view;
}

RandomTables MakeRandom(const RandomCase& c) {
  std::mt19937_64 rng(c.seed);
  const RandomKeys keys = MakeKeys(c, c.entity_rows, rng);
  Column<int64_t> row_ids;
  for (int i = 0; i < c.entity_rows; ++i) row_ids.push_back(i);
  RandomTables out;
  out.entities = Rechunk(MakeTable({{"row_id", Ints(row_ids)},
                                    {"k_int", Ints(keys.ints)},
                                    {"k_str", Strings(keys.strs)},
                                    {"event_timestamp", Timestamps(keys.ts, c.entity_ts)},
                                    {"note", Strings(keys.strs)}}),
                         rng);
  for (size_t v = 0; v < 3; ++v) {
    out.views.push_back(MakeView(c, v, rng, &out.view_plain.emplace_back()));
    out.entity_plain.push_back(Plain(keys, v != 1, v != 0));
  }
  return out;
}

// For each entity row, scan every feature row: the plain statement of the rules.
Column<int64_t> ReferencePicks(const PlainSide& e, const PlainSide& f, int64_t ttl_ms) {
  Column<int64_t> picks;
  for (size_t i = 0; i < e.key.size(); ++i) {
    std::optional<int64_t> best;
    auto rank = [&](size_t j) {
      return std::make_tuple(*f.ts[j], f.created[j].value_or(INT64_MIN), j);
    };
    for (size_t j = 0; e.key[i] && e.ts[i] && j < f.key.size(); ++j) {
      if (!f.key[j] || !f.ts[j] || *f.key[j] != *e.key[i]) continue;
      if (*f.ts[j] > *e.ts[i] || (ttl_ms > 0 && *f.ts[j] < *e.ts[i] - ttl_ms)) continue;
      if (!best || rank(j) > rank(*best)) best = j;
    }
    picks.push_back(best);
  }
  return picks;
}

void PrintTo(const RandomCase& c, std::ostream* out) {
  *out << "seed " << c.seed << ", " << c.entity_rows << " entity rows, " << c.feature_rows
       << " feature rows, " << c.threads << " threads";
}

class PointInTimeJoinRandomTest : public testing::TestWithParam<RandomCase> {};

TEST_P(PointInTimeJoinRandomTest, MatchesBruteForce) {
  const RandomCase& c = GetParam();
  RandomTables tables = MakeRandom(c);
  PointInTimeJoinOptions options;
  options.full_feature_names = true;
  options.threads = c.threads;
  auto out = PointInTimeJoin(tables.entities, tables.views, options);
  ASSERT_TRUE(out) << out.error().message;
  ASSERT_EQ((*out)->num_rows(), c.entity_rows);
  for (const auto& name : tables.entities->schema()->field_names()) {
    EXPECT_TRUE((*out)->GetColumnByName(name)->Equals(*tables.entities->GetColumnByName(name)))
        << name;
  }
  int matched = 0;
  for (size_t v = 0; v < tables.views.size(); ++v) {
    const auto& view = tables.views[v];
    const int64_t ttl_ms = std::chrono::duration_cast<milliseconds>(view.ttl).count();
    const Column<int64_t> expected =
        ReferencePicks(tables.entity_plain[v], tables.view_plain[v], ttl_ms);
    EXPECT_EQ(ReadInts(**out, view.name + "__tag"), expected) << view.name;
    auto scores = Read<arrow::DoubleArray, double>(view.table->GetColumnByName("score"));
    auto labels = Read<arrow::StringArray, std::string>(view.table->GetColumnByName("label"));
    Column<double> want_scores;
    for (const auto& pick : expected) want_scores.push_back(pick ? scores[*pick] : kNull);
    Column<std::string> want_labels;
    for (const auto& pick : expected) want_labels.push_back(pick ? labels[*pick] : kNull);
    EXPECT_EQ((Read<arrow::DoubleArray, double>((*out)->GetColumnByName(view.name + "__score"))),
              want_scores);
    EXPECT_EQ(
        (Read<arrow::StringArray, std::string>((*out)->GetColumnByName(view.name + "__label"))),
        want_labels);
    matched += static_cast<int>(
        std::count_if(expected.begin(), expected.end(), [](auto& p) { return p.has_value(); }));
  }
  EXPECT_GT(matched, c.entity_rows / 2);  // the data exercise matches, not just nulls
}

INSTANTIATE_TEST_SUITE_P(
    Seeds, PointInTimeJoinRandomTest,
    testing::Values(
        RandomCase{1, 3000, 6000, 200, 400, 1, TsKind::kMicrosInt64, TsKind::kMicrosInt64, 2},
        RandomCase{2, 2000, 8000, 50, 40, 1, TsKind::kMillisUtc, TsKind::kMicrosInt64, 1},
        RandomCase{3, 3000, 13000, 300, 1000, 1'000'000'007, TsKind::kMillisUtc, TsKind::kNanos, 3},
        RandomCase{4, 1500, 9000, 20, 25, 1, TsKind::kNanos, TsKind::kMillisUtc, 8},
        RandomCase{5, 3000, 3000, 1000, 200, -7, TsKind::kMicrosInt64, TsKind::kMillisUtc, 2}));

}  // namespace
}  // namespace falaj::features
