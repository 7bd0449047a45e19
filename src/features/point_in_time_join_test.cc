// Tests for PointInTimeJoin: one hand-written case per rule and per error. Randomised tables
// checked against a brute-force reference are in point_in_time_join_random_test.cc.
#include "features/point_in_time_join.h"

#include <arrow/api.h>
#include <arrow/compute/api_vector.h>
#include <arrow/compute/initialize.h>
#include <arrow/json/from_string.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "features/point_in_time_join_test_support.h"

namespace falaj::features {
namespace {

using namespace falaj::features::testing;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::shared_ptr<arrow::Array> Json(const std::shared_ptr<arrow::DataType>& type,
                                   const std::string& json) {
  return arrow::json::ArrayFromJSONString(type, json).ValueOrDie();
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

}  // namespace
}  // namespace falaj::features
