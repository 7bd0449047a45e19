#include "data/column_profile.h"

#include <arrow/api.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "data/hyperloglog.h"
#include "data/value_text.h"

namespace falaj::data {
namespace {

using ::testing::HasSubstr;

template <typename T, typename Builder>
std::shared_ptr<arrow::Array> Build(Builder builder, const std::vector<std::optional<T>>& values) {
  for (const auto& value : values) {
    EXPECT_TRUE((value ? builder.Append(*value) : builder.AppendNull()).ok());
  }
  return builder.Finish().ValueOrDie();
}

std::shared_ptr<arrow::ChunkedArray> Chunked(const std::shared_ptr<arrow::Array>& array,
                                             int64_t size) {
  arrow::ArrayVector chunks;
  for (int64_t start = 0; start < array->length(); start += size) {
    chunks.push_back(array->Slice(start, std::min(size, array->length() - start)));
  }
  return std::make_shared<arrow::ChunkedArray>(chunks, array->type());
}

ColumnProfile Profile(const std::shared_ptr<arrow::Array>& array, int64_t chunk = 1 << 30) {
  return ProfileColumn("c", *Chunked(array, chunk));
}

// numpy.quantile(values, level) with the default method, on a sorted copy.
double NumpyQuantile(std::vector<double> sorted, double level) {
  std::sort(sorted.begin(), sorted.end());
  double index = static_cast<double>(sorted.size() - 1) * level;
  size_t below = static_cast<size_t>(std::floor(index));
  size_t above = std::min(below + 1, sorted.size() - 1);
  double t = index - static_cast<double>(below);
  double a = sorted[below];
  double b = sorted[above];
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}

// numpy.histogram(values, bins) counts, bin by bin against the edges.
std::vector<int64_t> NumpyHistogram(const std::vector<double>& values, int bins) {
  double low = *std::min_element(values.begin(), values.end());
  double high = *std::max_element(values.begin(), values.end());
  if (low == high) {
    low -= 0.5;
    high += 0.5;
  }
  double step = (high - low) / bins;
  std::vector<double> edges;
  for (int i = 0; i < bins; ++i) edges.push_back(i * step + low);
  edges.push_back(high);
  std::vector<int64_t> counts(bins, 0);
  for (double value : values) {
    for (int i = 0; i < bins; ++i) {
      bool last = i == bins - 1;
      if (value >= edges[i] && (value < edges[i + 1] || (last && value <= edges[i + 1]))) {
        ++counts[i];
        break;
      }
    }
  }
  return counts;
}

void ExpectRelativelyNear(double actual, double expected, double tolerance) {
  EXPECT_LE(std::abs(actual - expected), tolerance * std::max(1.0, std::abs(expected)))
      << actual << " vs " << expected;
}

TEST(ColumnProfileTest, DoublesAgainstBruteForce) {
  std::mt19937_64 random(7);
  std::normal_distribution<double> normal(1000.0, 50.0);
  std::vector<std::optional<double>> column;
  std::vector<double> finite;
  for (int i = 0; i < 100003; ++i) {
    int kind = static_cast<int>(random() % 1000);
    if (kind == 0) {
      column.push_back(std::nullopt);
    } else if (kind == 1) {
      column.push_back(std::nan(""));
    } else if (kind == 2) {
      column.push_back(i % 2 ? INFINITY : -INFINITY);
    } else {
      column.push_back(normal(random));
      finite.push_back(*column.back());
    }
  }
  auto array = Build(arrow::DoubleBuilder(), column);
  ColumnProfile profile = Profile(array, 4099);
  EXPECT_EQ(profile.kind, ProfileKind::kNumeric);
  EXPECT_EQ(profile.type, "double");
  EXPECT_EQ(profile.count, 100003);
  EXPECT_EQ(profile.null_count, std::count(column.begin(), column.end(), std::nullopt));
  EXPECT_EQ(profile.nan_count + profile.infinite_count + profile.null_count +
                static_cast<int64_t>(finite.size()),
            100003);
  ASSERT_TRUE(profile.numeric);
  const NumericStats& stats = *profile.numeric;
  EXPECT_EQ(stats.min, *std::min_element(finite.begin(), finite.end()));
  EXPECT_EQ(stats.max, *std::max_element(finite.begin(), finite.end()));
  long double sum = 0;
  for (double value : finite) sum += value;
  long double mean = sum / finite.size();
  long double squares = 0;
  for (double value : finite) squares += (value - mean) * (value - mean);
  ExpectRelativelyNear(stats.mean, static_cast<double>(mean), 1e-9);
  ExpectRelativelyNear(stats.stddev, static_cast<double>(std::sqrt(squares / finite.size())), 1e-9);
  for (size_t i = 0; i < kQuantileLevels.size(); ++i) {
    EXPECT_DOUBLE_EQ(stats.quantiles[i], NumpyQuantile(finite, kQuantileLevels[i])) << i;
  }
  EXPECT_EQ(stats.histogram.counts, NumpyHistogram(finite, 20));
  EXPECT_EQ(stats.histogram.min, stats.min);
  EXPECT_EQ(stats.histogram.max, stats.max);
  EXPECT_TRUE(profile.top_values.empty());  // not for floats
}

TEST(ColumnProfileTest, QuantilesMatchNumpyOnSmallInputs) {
  auto array = Build(arrow::Int64Builder(), std::vector<std::optional<int64_t>>{4, 1, 3, 2});
  const NumericStats stats = *Profile(array).numeric;
  // numpy.quantile([1, 2, 3, 4], [.01, .05, .25, .5, .75, .95, .99])
  std::array<double, 7> expected = {1.03, 1.15, 1.75, 2.5, 3.25, 3.85, 3.97};
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(stats.quantiles[i], expected[i], 1e-12);
  EXPECT_DOUBLE_EQ(stats.mean, 2.5);
  EXPECT_DOUBLE_EQ(stats.stddev, std::sqrt(1.25));  // ddof = 0
  auto one = Build(arrow::DoubleBuilder(), std::vector<std::optional<double>>{7.5});
  const NumericStats single = *Profile(one).numeric;
  for (double quantile : single.quantiles) EXPECT_EQ(quantile, 7.5);
  EXPECT_EQ(single.stddev, 0.0);
  // A constant column: numpy widens the range by 0.5 each way, so values fall in the middle bin.
  EXPECT_EQ(single.histogram.min, 7.0);
  EXPECT_EQ(single.histogram.max, 8.0);
  EXPECT_EQ(single.histogram.counts[10], 1);
}

TEST(ColumnProfileTest, MeanAndStddevStayAccurateFarFromZero) {
  std::mt19937_64 random(3);
  std::uniform_real_distribution<double> noise(-1.0, 1.0);
  std::vector<std::optional<double>> column;
  std::vector<double> values;
  for (int i = 0; i < 50000; ++i) {
    values.push_back(1e9 + noise(random));
    column.push_back(values.back());
  }
  const NumericStats stats = *Profile(Build(arrow::DoubleBuilder(), column)).numeric;
  long double sum = 0;
  for (double value : values) sum += value;
  long double mean = sum / values.size();
  long double squares = 0;
  for (double value : values) squares += (value - mean) * (value - mean);
  ExpectRelativelyNear(stats.mean, static_cast<double>(mean), 1e-12);
  ExpectRelativelyNear(stats.stddev, static_cast<double>(std::sqrt(squares / values.size())), 1e-6);
}

TEST(ColumnProfileTest, TopValuesOfSkewedIntegersAreExact) {
  std::mt19937_64 random(11);
  std::geometric_distribution<int64_t> geometric(0.15);
  std::vector<std::optional<int64_t>> column;
  std::map<int64_t, int64_t> counts;
  for (int i = 0; i < 200000; ++i) {
    if (i % 50 == 0) {
      column.push_back(std::nullopt);
      continue;
    }
    int64_t value = geometric(random) * 3 - 20;
    column.push_back(value);
    ++counts[value];
  }
  std::vector<std::pair<int64_t, int64_t>> ranked(counts.begin(), counts.end());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  ColumnProfile profile = Profile(Build(arrow::Int64Builder(), column), 3333);
  ASSERT_EQ(profile.top_values.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(profile.top_values[i].value, std::to_string(ranked[i].first)) << i;
    EXPECT_EQ(profile.top_values[i].count, ranked[i].second) << i;
  }
  EXPECT_NEAR(static_cast<double>(*profile.distinct_estimate), static_cast<double>(counts.size()),
              3 * HyperLogLog::kStandardError * counts.size() + 1);
}

TEST(ColumnProfileTest, TopValueTiesGoByValue) {
  auto array = Build(arrow::StringBuilder(),
                     std::vector<std::optional<std::string>>{"b", "a", "c", "b", "a", "d"});
  ColumnProfile profile =
      ProfileColumn("c", *Chunked(array, 2), {.histogram_bins = 20, .top_k = 3});
  ASSERT_EQ(profile.top_values.size(), 3u);
  EXPECT_EQ(profile.top_values[0], (TopValue{"a", 2}));
  EXPECT_EQ(profile.top_values[1], (TopValue{"b", 2}));
  EXPECT_EQ(profile.top_values[2], (TopValue{"c", 1}));
}

TEST(ColumnProfileTest, StringsAgainstBruteForce) {
  std::mt19937_64 random(5);
  std::vector<std::optional<std::string>> column;
  std::map<std::string, int64_t> counts;
  int64_t total_length = 0;
  for (int i = 0; i < 50000; ++i) {
    if (random() % 20 == 0) {
      column.push_back(std::nullopt);
      continue;
    }
    // Skewed: a few frequent currencies, a long tail of codes.
    uint64_t draw = random() % 100;
    std::string value = draw < 50   ? "AED"
                        : draw < 70 ? "USD"
                        : draw < 80 ? "EUR"
                                    : fmt::format("X{}", random() % 4000);
    column.push_back(value);
    ++counts[value];
    total_length += static_cast<int64_t>(value.size());
  }
  ColumnProfile profile = Profile(Build(arrow::StringBuilder(), column), 777);
  EXPECT_EQ(profile.kind, ProfileKind::kString);
  int64_t present = 0;
  for (const auto& [value, count] : counts) present += count;
  std::vector<std::pair<std::string, int64_t>> ranked(counts.begin(), counts.end());
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  ASSERT_EQ(profile.top_values.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(profile.top_values[i], (TopValue{ranked[i].first, ranked[i].second})) << i;
  }
  ASSERT_TRUE(profile.lengths);
  EXPECT_EQ(profile.lengths->min, 2);
  EXPECT_EQ(profile.lengths->max, 5);
  EXPECT_DOUBLE_EQ(profile.lengths->mean, static_cast<double>(total_length) / present);
  EXPECT_NEAR(static_cast<double>(*profile.distinct_estimate), static_cast<double>(counts.size()),
              3 * HyperLogLog::kStandardError * counts.size() + 1);
}

TEST(ColumnProfileTest, HyperLogLogOnOneHundredThousandDistinctValues) {
  constexpr int64_t kDistinct = 100000;
  std::vector<std::optional<int64_t>> ints;
  std::vector<std::optional<std::string>> strings;
  for (int64_t i = 0; i < kDistinct; ++i) {
    for (int64_t repeat = 0; repeat <= i % 3; ++repeat) {
      ints.push_back(i * 7919);
      strings.push_back(fmt::format("customer-{}", i));
    }
  }
  double tolerance = 3 * HyperLogLog::kStandardError * kDistinct;
  EXPECT_NEAR(static_cast<double>(*Profile(Build(arrow::Int64Builder(), ints)).distinct_estimate),
              kDistinct, tolerance);
  EXPECT_NEAR(
      static_cast<double>(*Profile(Build(arrow::StringBuilder(), strings)).distinct_estimate),
      kDistinct, tolerance);
}

TEST(HyperLogLogTest, MergeEstimatesTheUnionAndSmallCountsAreNearExact) {
  HyperLogLog left;
  HyperLogLog right;
  for (uint64_t i = 0; i < 60000; ++i) left.AddHash(HashInteger(i));
  for (uint64_t i = 40000; i < 100000; ++i) right.AddHash(HashInteger(i));
  left.Merge(right);
  EXPECT_NEAR(left.Estimate(), 100000, 3 * HyperLogLog::kStandardError * 100000);
  HyperLogLog small;
  EXPECT_EQ(small.Estimate(), 0.0);
  for (uint64_t i = 0; i < 50; ++i) small.AddHash(HashBytes(fmt::format("v{}", i)));
  EXPECT_NEAR(small.Estimate(), 50, 2);
  // Hashes are fixed functions of the bytes: sketches from different processes merge.
  EXPECT_EQ(HashBytes("falaj"), HashBytes(std::string("falaj")));
  EXPECT_NE(HashBytes("falaj"), HashBytes("falak"));
}

TEST(ColumnProfileTest, Bools) {
  auto array = Build(arrow::BooleanBuilder(),
                     std::vector<std::optional<bool>>{true, false, true, std::nullopt, true});
  ColumnProfile profile = Profile(array, 2);
  EXPECT_EQ(profile.kind, ProfileKind::kBool);
  EXPECT_EQ(profile.null_count, 1);
  EXPECT_EQ(*profile.distinct_estimate, 2);
  ASSERT_EQ(profile.top_values.size(), 2u);
  EXPECT_EQ(profile.top_values[0], (TopValue{"true", 3}));
  EXPECT_EQ(profile.top_values[1], (TopValue{"false", 1}));
}

TEST(ColumnProfileTest, Timestamps) {
  auto array =
      Build(arrow::TimestampBuilder(arrow::timestamp(arrow::TimeUnit::MILLI, "Asia/Dubai"),
                                    arrow::default_memory_pool()),
            std::vector<std::optional<int64_t>>{1795521600123, std::nullopt, -1500, 1795521600000});
  ColumnProfile profile = Profile(array, 1);
  EXPECT_EQ(profile.kind, ProfileKind::kTimestamp);
  EXPECT_EQ(profile.type, "timestamp[ms, tz=Asia/Dubai]");
  EXPECT_EQ(profile.count, 4);
  EXPECT_EQ(profile.null_count, 1);
  ASSERT_TRUE(profile.time_range);
  EXPECT_EQ(profile.time_range->min, "1969-12-31T23:59:58.500Z");
  EXPECT_EQ(profile.time_range->max, "2026-11-24T12:00:00.123Z");
  EXPECT_EQ(*profile.distinct_estimate, 3);
  EXPECT_FALSE(profile.numeric);
}

TEST(ColumnProfileTest, MissingOnlyAndOtherColumns) {
  auto nulls = Build(arrow::Int64Builder(), std::vector<std::optional<int64_t>>{std::nullopt});
  ColumnProfile profile = Profile(nulls);
  EXPECT_EQ(profile.kind, ProfileKind::kNumeric);
  EXPECT_EQ(profile.null_count, 1);
  EXPECT_FALSE(profile.numeric);
  EXPECT_EQ(*profile.distinct_estimate, 0);
  ColumnProfile null_type = Profile(std::make_shared<arrow::NullArray>(4));
  EXPECT_EQ(null_type.kind, ProfileKind::kOther);
  EXPECT_EQ(null_type.null_count, 4);
  EXPECT_FALSE(null_type.distinct_estimate);
  auto dates = Build(arrow::Date32Builder(), std::vector<std::optional<int32_t>>{1, std::nullopt});
  ColumnProfile other = Profile(dates);
  EXPECT_EQ(other.kind, ProfileKind::kOther);
  EXPECT_EQ(other.type, "date32[day]");
  EXPECT_EQ(other.null_count, 1);
}

TEST(ColumnProfileTest, ChunkingDoesNotChangeTheProfile) {
  std::mt19937_64 random(13);
  std::vector<std::optional<int64_t>> column;
  for (int i = 0; i < 20000; ++i) {
    column.push_back(random() % 9 == 0 ? std::nullopt : std::optional<int64_t>(random() % 500));
  }
  auto array = Build(arrow::Int64Builder(), column);
  ColumnProfile whole = Profile(array);
  for (int64_t size : {1, 17, 4096}) EXPECT_EQ(Profile(array, size), whole) << size;
}

std::shared_ptr<arrow::Table> MixedTable() {
  std::mt19937_64 random(17);
  std::vector<std::optional<double>> amounts;
  std::vector<std::optional<std::string>> currencies;
  std::vector<std::optional<int64_t>> times;
  std::vector<std::optional<bool>> flags;
  for (int i = 0; i < 3000; ++i) {
    amounts.push_back(i % 100 == 0 ? std::nullopt
                                   : std::optional<double>((random() % 1000000) / 7.0));
    currencies.push_back(i % 3 == 0 ? "AED" : fmt::format("C{}", random() % 30));
    times.push_back(1795521600000000 + static_cast<int64_t>(random() % 1000000000));
    flags.push_back(random() % 4 == 0);
  }
  return arrow::Table::Make(
      arrow::schema({arrow::field("amount", arrow::float64()),
                     arrow::field("currency", arrow::utf8()),
                     arrow::field("event_time", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC")),
                     arrow::field("flag", arrow::boolean()), arrow::field("blank", arrow::null())}),
      {Build(arrow::DoubleBuilder(), amounts), Build(arrow::StringBuilder(), currencies),
       Build(arrow::TimestampBuilder(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                     arrow::default_memory_pool()),
             times),
       Build(arrow::BooleanBuilder(), flags), std::make_shared<arrow::NullArray>(3000)});
}

TEST(ColumnProfileTest, JsonRoundTrip) {
  auto profile = ProfileTable(*MixedTable());
  ASSERT_TRUE(profile) << profile.error().message;
  ASSERT_EQ(profile->columns.size(), 5u);
  EXPECT_EQ(profile->row_count, 3000);
  nlohmann::json json = ProfileToJson(*profile);
  auto reread = ProfileFromJson(json);
  ASSERT_TRUE(reread) << reread.error().message;
  EXPECT_EQ(*reread, *profile);
  auto from_text = ProfileFromJson(nlohmann::json::parse(json.dump()));
  ASSERT_TRUE(from_text) << from_text.error().message;
  EXPECT_EQ(*from_text, *profile);
  EXPECT_EQ(json["columns"][0]["kind"], "numeric");
  EXPECT_TRUE(json["columns"][0]["numeric"]["quantiles"].contains("p99"));
  EXPECT_EQ(json["columns"][0]["numeric"]["histogram"]["counts"].size(), 20u);
  EXPECT_EQ(json["columns"][2]["time_range"]["min"].get<std::string>().size(), 27u);
  EXPECT_EQ(json["columns"][1]["top_values"][0]["value"], "AED");
}

TEST(ColumnProfileTest, ProfileFromJsonIsStrict) {
  nlohmann::json good = ProfileToJson(*ProfileTable(*MixedTable()));
  auto error_of = [&](auto mutate) {
    nlohmann::json bad = good;
    mutate(bad);
    auto parsed = ProfileFromJson(bad);
    EXPECT_FALSE(parsed);
    return parsed ? std::string() : parsed.error().message;
  };
  EXPECT_THAT(error_of([](auto& j) { j["extra"] = 1; }), HasSubstr("unknown key 'extra'"));
  EXPECT_THAT(error_of([](auto& j) { j["columns"][0]["count"] = "many"; }),
              HasSubstr("columns[0].count: must be a non-negative integer"));
  EXPECT_THAT(error_of([](auto& j) { j["columns"][0]["numeric"]["quantiles"].erase("p50"); }),
              HasSubstr("columns[0].numeric.quantiles.p50: is missing"));
  EXPECT_THAT(error_of([](auto& j) { j["columns"][0]["kind"] = "fancy"; }),
              HasSubstr("columns[0].kind"));
  EXPECT_THAT(error_of([](auto& j) { j["columns"][1]["top_values"][0]["count"] = -1; }),
              HasSubstr("columns[1].top_values[0].count"));
  EXPECT_THAT(error_of([](auto& j) { j["columns"][0]["null_count"] = 5000; }),
              HasSubstr("less than the missing values"));
  EXPECT_THAT(error_of([](auto& j) { j["row_count"] = 7; }), HasSubstr("disagree with row_count"));
  EXPECT_THAT(error_of([](auto& j) {
                j["columns"][0]["numeric"]["histogram"]["counts"] = nlohmann::json::array();
              }),
              HasSubstr("histogram.counts"));
  EXPECT_FALSE(ProfileFromJson(nlohmann::json::array()));
}

TEST(ColumnProfileTest, NamesThatAreNotUtf8StillMakeJson) {
  auto array = Build(arrow::Int64Builder(), std::vector<std::optional<int64_t>>{1});
  auto table =
      arrow::Table::Make(arrow::schema({arrow::field("caf\xE9", arrow::int64())}), {array});
  auto profile = ProfileTable(*table);
  ASSERT_TRUE(profile);
  EXPECT_EQ(profile->columns[0].name, "caf\xEF\xBF\xBD");
  EXPECT_NO_THROW(ProfileToJson(*profile).dump());
}

TEST(ColumnProfileTest, OptionsAreChecked) {
  auto table = MixedTable();
  EXPECT_FALSE(ProfileTable(*table, {.histogram_bins = 0, .top_k = 10}));
  EXPECT_FALSE(ProfileTable(*table, {.histogram_bins = 20, .top_k = -1}));
  auto custom = ProfileTable(*table, {.histogram_bins = 5, .top_k = 2});
  ASSERT_TRUE(custom);
  EXPECT_EQ(custom->columns[0].numeric->histogram.counts.size(), 5u);
  EXPECT_EQ(custom->columns[1].top_values.size(), 2u);
}

TEST(HistogramBinTest, FollowsNumpyEdges) {
  Histogram histogram{.min = 0.0, .max = 10.0, .counts = std::vector<int64_t>(5, 0)};
  EXPECT_EQ(HistogramBin(histogram, 0.0), 0u);
  EXPECT_EQ(HistogramBin(histogram, 1.999), 0u);
  EXPECT_EQ(HistogramBin(histogram, 2.0), 1u);
  EXPECT_EQ(HistogramBin(histogram, 10.0), 4u);  // the last bin is closed
  EXPECT_EQ(HistogramBin(histogram, 10.5), std::nullopt);
  EXPECT_EQ(HistogramBin(histogram, -0.1), std::nullopt);
  EXPECT_EQ(HistogramBin(histogram, std::nan("")), std::nullopt);
}

TEST(ValueTextTest, IsoTimestampsAndUtf8) {
  EXPECT_EQ(FormatIsoTimestamp(0, 1), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatIsoTimestamp(-1, 1000000000), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(FormatIsoTimestamp(951782400123456, 1000000), "2000-02-29T00:00:00.123456Z");
  EXPECT_EQ(FormatIsoTimestamp(253402300800, 1), "+10000-01-01T00:00:00Z");
  EXPECT_EQ(FormatIsoTimestamp(INT64_MIN, 1000000000), "1677-09-21T00:12:43.145224192Z");
  EXPECT_EQ(SanitizeUtf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(SanitizeUtf8("a\xC3"), "a\xEF\xBF\xBD");
  EXPECT_EQ(SanitizeUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(SanitizeUtf8("\xC3\xA9\xC3\xA9", 3), "\xC3\xA9...");
}

}  // namespace
}  // namespace falaj::data
