// The online store end to end on RocksDB: rows written from Arrow tables (write-if-newer, the
// latest row per entity) and read back through a PreparedRead — exact values of every feature
// type, NOT_FOUND, OUTSIDE_MAX_AGE, rows of another layout read as missing, keys coerced to the
// key column's type, a feature selected twice, and bulk loads storing what batched writes store.
#include "features/online_store.h"

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <limits>
#include <map>

#include "features/online_features.h"

namespace falaj::features {
namespace {

using std::chrono::hours;

int64_t MicrosAgo(hours ago) {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             (std::chrono::system_clock::now() - ago).time_since_epoch())
      .count();
}

int64_t NowMicros() { return MicrosAgo(hours(0)); }

EntityKey Id(int64_t id) { return {id, {}, false}; }
EntityKey Text(std::string_view text) { return {0, text, true}; }

ResolvedView View(data::ColumnType key_type = data::ColumnType::kInt64) {
  ResolvedView view;
  view.view.name = "v";
  view.view.timestamp_field = "ts";
  view.view.ttl = hours(24);
  view.view.features = {{"i", data::ColumnType::kInt64},
                        {"d", data::ColumnType::kFloat64},
                        {"b", data::ColumnType::kBool},
                        {"t", data::ColumnType::kTimestamp},
                        {"s", data::ColumnType::kString}};
  view.join_keys = {"id"};
  view.join_key_types = {key_type};
  view.selected = view.view.features;
  return view;
}

struct Row {
  int64_t id;
  int64_t ts;
  std::optional<int64_t> i;
  double d;
  bool b;
  int64_t t;
  std::string s;
};

std::shared_ptr<arrow::Table> Table(const std::vector<Row>& rows) {
  auto micros = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
  arrow::Int64Builder ids, ints;
  arrow::TimestampBuilder times(micros, arrow::default_memory_pool()),
      stamps(micros, arrow::default_memory_pool());
  arrow::DoubleBuilder reals;
  arrow::BooleanBuilder flags;
  arrow::StringBuilder texts;
  for (const auto& row : rows) {
    EXPECT_TRUE(ids.Append(row.id).ok());
    EXPECT_TRUE(times.Append(row.ts).ok());
    EXPECT_TRUE((row.i ? ints.Append(*row.i) : ints.AppendNull()).ok());
    EXPECT_TRUE(reals.Append(row.d).ok());
    EXPECT_TRUE(flags.Append(row.b).ok());
    EXPECT_TRUE(stamps.Append(row.t).ok());
    EXPECT_TRUE(texts.Append(row.s).ok());
  }
  auto schema =
      arrow::schema({arrow::field("id", arrow::int64()), arrow::field("ts", micros),
                     arrow::field("i", arrow::int64()), arrow::field("d", arrow::float64()),
                     arrow::field("b", arrow::boolean()), arrow::field("t", micros),
                     arrow::field("s", arrow::utf8())});
  return arrow::Table::Make(
      schema, {*ids.Finish(), *times.Finish(), *ints.Finish(), *reals.Finish(), *flags.Finish(),
               *stamps.Finish(), *texts.Finish()});
}

class OnlineStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("falaj_online_store_test_" + std::to_string(::getpid()));
    std::filesystem::remove_all(directory_);
    auto kv = storage::OpenKvStore("rocksdb://" + directory_.string());
    ASSERT_TRUE(kv) << kv.error().message;
    kv_ = std::move(*kv);
    store_ = std::make_unique<OnlineStore>(*kv_);
  }
  void TearDown() override {
    store_.reset();
    kv_.reset();
    std::filesystem::remove_all(directory_);
  }

  int64_t Write(const ResolvedView& view, const std::vector<Row>& rows,
                storage::KvWriteMode mode = storage::KvWriteMode::kBuffered) {
    auto written =
        store_->WriteLatest("p", view, *Table(rows), std::chrono::system_clock::now(), mode);
    EXPECT_TRUE(written) << written.error().message;
    return written.value_or(-1);
  }

  // Reads `ids` through a plan of `view`; the result stays valid until the next Read.
  const OnlineReadResult& Read(const ResolvedView& view, const std::vector<EntityKey>& ids) {
    plan_ = std::make_unique<PreparedRead>(
        "p", std::make_shared<std::vector<ResolvedView>>(std::vector<ResolvedView>{view}));
    const std::span<const EntityKey> columns[] = {ids};
    auto read = plan_->Read(*kv_, columns, ids.size(), NowMicros(), false, result_);
    EXPECT_TRUE(read && *read);
    return result_;
  }

  std::filesystem::path directory_;
  std::unique_ptr<storage::KvStore> kv_;
  std::unique_ptr<OnlineStore> store_;
  std::unique_ptr<PreparedRead> plan_;
  OnlineReadResult result_;
};

TEST_F(OnlineStoreTest, DecodesEveryTypeExactly) {
  const int64_t fresh = MicrosAgo(hours(1));
  const double tiny = std::numeric_limits<double>::denorm_min();
  Write(View(),
        {{1, fresh, -(int64_t{1} << 62), tiny, true, -5, std::string("a\0b", 3)},
         {2, fresh, std::nullopt, -0.0, false, 1'700'000'000'123'456, ""}},
        storage::KvWriteMode::kBulk);
  const auto& found = Read(View(), {Id(1), Id(2)});
  ASSERT_EQ(found.rows(), 2u);
  EXPECT_EQ(found.status(0, 0), FeatureStatus::kPresent);
  EXPECT_EQ(found.event_micros(0, 0), fresh);
  EXPECT_EQ(found.cell(0, 0).integer, -(int64_t{1} << 62));
  EXPECT_EQ(found.cell(0, 1).real, tiny);
  EXPECT_TRUE(found.cell(0, 2).flag);
  EXPECT_EQ(found.cell(0, 3).integer, -5);
  EXPECT_EQ(found.cell(0, 4).text, std::string_view("a\0b", 3));
  for (size_t c = 0; c < 5; ++c) EXPECT_TRUE(found.cell(0, c).present) << c;
  EXPECT_FALSE(found.cell(1, 0).present) << "a null feature is absent in a present row";
  EXPECT_TRUE(std::signbit(found.cell(1, 1).real));
  EXPECT_FALSE(found.cell(1, 2).flag);
  EXPECT_EQ(found.cell(1, 3).integer, 1'700'000'000'123'456);
  EXPECT_TRUE(found.cell(1, 4).present);
  EXPECT_EQ(found.cell(1, 4).text, "");
}

TEST_F(OnlineStoreTest, MissingStaleAndOtherLayoutRows) {
  const int64_t stale = MicrosAgo(hours(48));
  Write(View(), {{1, stale, 7, 1.0, true, 0, "x"}, {2, MicrosAgo(hours(1)), 8, 2.0, true, 0, "y"}});
  const auto& found = Read(View(), {Id(1), Id(3)});
  EXPECT_EQ(found.status(0, 0), FeatureStatus::kOutsideMaxAge);
  EXPECT_EQ(found.event_micros(0, 0), stale) << "the stale row's time is still reported";
  EXPECT_FALSE(found.cell(0, 0).present);
  EXPECT_EQ(found.status(0, 1), FeatureStatus::kNotFound);
  EXPECT_EQ(found.event_micros(0, 1), 0);
  EXPECT_EQ(FeatureStatusName(found.status(0, 0)), "OUTSIDE_MAX_AGE");

  ResolvedView changed = View();
  changed.view.features[1].type = data::ColumnType::kInt64;  // another layout
  changed.selected = changed.view.features;
  const auto& other = Read(changed, {Id(2)});
  EXPECT_EQ(other.status(0, 0), FeatureStatus::kNotFound);
  EXPECT_FALSE(other.cell(0, 0).present);
}

TEST_F(OnlineStoreTest, KeepsTheNewestRowPerEntity) {
  const int64_t older = MicrosAgo(hours(3)), newer = MicrosAgo(hours(2));
  EXPECT_EQ(Write(View(),
                  {{1, older, 1, 0, false, 0, ""},
                   {1, newer, 2, 0, false, 0, ""},
                   {1, older, 3, 0, false, 0, ""}},
                  storage::KvWriteMode::kBulk),
            1);
  EXPECT_EQ(Write(View(), {{1, older, 4, 0, false, 0, ""}}), 0) << "older than the stored row";
  EXPECT_EQ(Write(View(), {{1, MicrosAgo(hours(-1)), 5, 0, false, 0, ""}}), 0) << "future row";
  EXPECT_EQ(Read(View(), {Id(1)}).cell(0, 0).integer, 2);
  // A bulk write into a view that already has rows still compares with them.
  EXPECT_EQ(Write(View(), {{1, older, 6, 0, false, 0, ""}}, storage::KvWriteMode::kBulk), 0);
  EXPECT_EQ(Write(View(), {{1, newer, 7, 0, false, 0, ""}}), 1) << "a tie goes to the later write";
  EXPECT_EQ(Read(View(), {Id(1)}).cell(0, 0).integer, 7);
}

TEST_F(OnlineStoreTest, CoercesKeysAndRepeatsASelectedFeature) {
  ResolvedView view = View();
  view.selected = {view.view.features[0], view.view.features[4], view.view.features[0]};
  Write(view, {{42, MicrosAgo(hours(1)), 9, 0, false, 0, "z"}});
  const auto& found = Read(view, {Text("42"), Text("x")});
  EXPECT_EQ(found.status(0, 0), FeatureStatus::kPresent) << "\"42\" names the int64 key 42";
  EXPECT_EQ(found.cell(0, 0).integer, 9);
  EXPECT_EQ(found.cell(0, 1).text, "z");
  EXPECT_EQ(found.cell(0, 2).integer, 9);
  EXPECT_TRUE(found.cell(0, 2).present);
  EXPECT_EQ(found.status(0, 1), FeatureStatus::kNotFound);
}

// Every row of `view`, keyed by the entity's key bytes after the view's prefix.
std::map<std::string, std::string> StoredRows(storage::KvStore& kv, std::string_view view) {
  const std::string prefix = OnlineKeyPrefix("p", view);
  std::map<std::string, std::string> rows;
  EXPECT_TRUE(kv.ScanPrefix(prefix, [&](std::string_view key, std::string_view value) {
    rows.emplace(key.substr(prefix.size()), value);
    return true;
  }));
  return rows;
}

// The bulk-load path (encoded a tile of rows at a time, ingested as table files) stores the very
// bytes the batched-write path stores: several tiles, two rows per entity, nulls, every type.
TEST_F(OnlineStoreTest, BulkLoadIntoAnEmptyViewStoresWhatBatchedWritesStore) {
  std::vector<Row> rows;
  for (int64_t id = 0; id < 150; ++id) {
    for (int64_t version = 0; version < 2; ++version) {
      rows.push_back({id, MicrosAgo(hours(3 - version)),
                      id % 7 == 0 ? std::nullopt : std::optional<int64_t>(id * 10 + version),
                      id / 3.0, id % 2 == 0, id, std::string(static_cast<size_t>(id % 5), 'x')});
    }
  }
  const auto table = Table(rows);
  OnlineStore bulk(*kv_, 1), batched(*kv_, std::numeric_limits<size_t>::max());
  ResolvedView view = View();
  const auto now = std::chrono::system_clock::now();
  view.view.name = "bulk";
  auto bulk_written = bulk.WriteLatest("p", view, *table, now, storage::KvWriteMode::kBulk);
  ASSERT_TRUE(bulk_written) << bulk_written.error().message;
  view.view.name = "batched";
  auto batched_written = batched.WriteLatest("p", view, *table, now, storage::KvWriteMode::kBulk);
  ASSERT_TRUE(batched_written) << batched_written.error().message;

  EXPECT_EQ(*bulk_written, 150);
  EXPECT_EQ(*batched_written, 150);
  const auto stored = StoredRows(*kv_, "bulk");
  EXPECT_EQ(stored.size(), 150u);
  EXPECT_EQ(stored, StoredRows(*kv_, "batched"));
  view.view.name = "bulk";
  EXPECT_EQ(Read(view, {Id(149)}).cell(0, 0).integer, 1491) << "the newer of the entity's rows";
}

TEST(OnlineCodecTest, IntegerKeysNameStringKeysByTheirText) {
  std::string from_integer, from_text;
  AppendKey(from_integer, Id(-17), data::ColumnType::kString);
  AppendTextKey(from_text, "-17");
  EXPECT_EQ(from_integer, from_text);
  std::string parsed, integer;
  AppendKey(parsed, Text("-17"), data::ColumnType::kInt64);
  AppendIntKey(integer, -17);
  EXPECT_EQ(parsed, integer);
}

}  // namespace
}  // namespace falaj::features
