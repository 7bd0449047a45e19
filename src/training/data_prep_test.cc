// Splits: stratification keeps class ratios, the time split puts every later row in test, seeds
// reproduce, ranking keeps query groups whole.
#include <arrow/api.h>
#include <gtest/gtest.h>

#include <set>

#include "training/trainer.h"

namespace falaj::training {
namespace {

// n rows: x = i, label = 1 for every fifth row, group = i / 7, time = (i * 37) % n (a
// permutation), with `equal_times` rows sharing each time near the end.
std::shared_ptr<arrow::Table> MakeTable(int64_t n) {
  arrow::DoubleBuilder x;
  arrow::Int64Builder label, group;
  arrow::TimestampBuilder time(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                               arrow::default_memory_pool());
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_TRUE(x.Append(static_cast<double>(i)).ok());
    EXPECT_TRUE(label.Append(i % 5 == 0 ? 1 : 0).ok());
    EXPECT_TRUE(group.Append(i / 7).ok());
    // Pairs of rows share a time, so ties exist at every boundary.
    EXPECT_TRUE(time.Append(((i * 37) % n) / 2 * 1000).ok());
  }
  std::shared_ptr<arrow::Array> xs, labels, groups, times;
  EXPECT_TRUE(x.Finish(&xs).ok() && label.Finish(&labels).ok() && group.Finish(&groups).ok() &&
              time.Finish(&times).ok());
  auto schema =
      arrow::schema({arrow::field("x", arrow::float64()), arrow::field("label", arrow::int64()),
                     arrow::field("query", arrow::int64()), arrow::field("ts", times->type())});
  return arrow::Table::Make(schema, {xs, labels, groups, times});
}

PrepareOptions Options(SplitMethod method, uint64_t seed) {
  PrepareOptions options;
  options.label = "label";
  options.features = {"x"};
  options.task = Task::kBinary;
  options.split.method = method;
  options.split.seed = seed;
  options.split.time_column = "ts";
  return options;
}

double PositiveShare(const DataSplit& split) {
  double positives = 0;
  for (float y : split.labels) positives += y;
  return positives / static_cast<double>(split.rows);
}

TEST(DataPrepTest, StratifiedSplitKeepsTheClassRatio) {
  auto table = MakeTable(1000);
  auto data = PrepareData(*table, Options(SplitMethod::kStratified, 7));
  ASSERT_TRUE(data) << data.error().message;
  EXPECT_EQ(data->train.rows + data->validation.rows + data->test.rows, 1000u);
  EXPECT_EQ(data->test.rows, 200u);
  for (const DataSplit* split : {&data->train, &data->validation, &data->test}) {
    EXPECT_DOUBLE_EQ(PositiveShare(*split), 0.2);
  }
  // Every row lands in exactly one split, with its own features.
  std::set<int64_t> seen;
  for (const DataSplit* split : {&data->train, &data->validation, &data->test}) {
    for (size_t r = 0; r < split->rows; ++r) {
      EXPECT_TRUE(seen.insert(split->source_rows[r]).second);
      EXPECT_EQ(split->features[r], static_cast<float>(split->source_rows[r]));
    }
  }
}

TEST(DataPrepTest, TimeSplitPutsAllLaterRowsInTest) {
  auto table = MakeTable(1000);
  auto data = PrepareData(*table, Options(SplitMethod::kTime, 1));
  ASSERT_TRUE(data) << data.error().message;
  auto time_of = [&](int64_t row) { return ((row * 37) % 1000) / 2; };
  auto latest = [&](const DataSplit& split) {
    int64_t t = -1;
    for (int64_t row : split.source_rows) t = std::max(t, time_of(row));
    return t;
  };
  auto earliest = [&](const DataSplit& split) {
    int64_t t = INT64_MAX;
    for (int64_t row : split.source_rows) t = std::min(t, time_of(row));
    return t;
  };
  EXPECT_LT(latest(data->train), earliest(data->validation));
  EXPECT_LT(latest(data->validation), earliest(data->test));
  EXPECT_EQ(data->test.rows, 200u);
}

TEST(DataPrepTest, SeedsReproduceAndDifferentSeedsDiffer) {
  auto table = MakeTable(500);
  auto a = PrepareData(*table, Options(SplitMethod::kRandom, 11));
  auto b = PrepareData(*table, Options(SplitMethod::kRandom, 11));
  auto c = PrepareData(*table, Options(SplitMethod::kRandom, 12));
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(a->test.source_rows, b->test.source_rows);
  EXPECT_EQ(a->train.features, b->train.features);
  EXPECT_NE(a->test.source_rows, c->test.source_rows);
}

TEST(DataPrepTest, RankingKeepsGroupsWholeAndContiguous) {
  auto table = MakeTable(700);
  PrepareOptions options = Options(SplitMethod::kRandom, 3);
  options.task = Task::kRanking;
  options.group_column = "query";
  auto data = PrepareData(*table, options);
  ASSERT_TRUE(data) << data.error().message;
  std::set<int64_t> groups_seen;
  for (const DataSplit* split : {&data->train, &data->validation, &data->test}) {
    size_t row = 0;
    for (unsigned size : split->group_sizes) {
      EXPECT_EQ(size, 7u);  // every query has 7 rows, none cut
      const int64_t query = split->source_rows[row] / 7;
      EXPECT_TRUE(groups_seen.insert(query).second);
      for (unsigned i = 0; i < size; ++i) EXPECT_EQ(split->source_rows[row + i] / 7, query);
      row += size;
    }
    EXPECT_EQ(row, split->rows);
  }
  EXPECT_EQ(groups_seen.size(), 100u);
}

TEST(DataPrepTest, BadColumnsAndLabelsAreNamed) {
  auto table = MakeTable(50);
  PrepareOptions options = Options(SplitMethod::kRandom, 1);
  options.features = {"nope"};
  auto missing = PrepareData(*table, options);
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("'nope'"), std::string::npos);
  options.features = {"ts"};
  EXPECT_FALSE(PrepareData(*table, options));
  options = Options(SplitMethod::kRandom, 1);
  options.label = "query";  // values up to 7: not a binary label
  auto bad_label = PrepareData(*table, options);
  ASSERT_FALSE(bad_label);
  EXPECT_NE(bad_label.error().message.find("0 or 1"), std::string::npos);
}

}  // namespace
}  // namespace falaj::training
