// Tests for PointInTimeJoin on randomised tables (several key shapes, time units, TTLs, chunkings
// and thread counts), checked against a brute-force reference that scans every feature row for
// every entity row.
#include <arrow/api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "features/point_in_time_join.h"
#include "features/point_in_time_join_test_support.h"

namespace falaj::features {
namespace {

using namespace falaj::features::testing;
using std::chrono::milliseconds;

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

class PointInTimeJoinRandomTest : public ::testing::TestWithParam<RandomCase> {};

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
    ::testing::Values(
        RandomCase{1, 3000, 6000, 200, 400, 1, TsKind::kMicrosInt64, TsKind::kMicrosInt64, 2},
        RandomCase{2, 2000, 8000, 50, 40, 1, TsKind::kMillisUtc, TsKind::kMicrosInt64, 1},
        RandomCase{3, 3000, 13000, 300, 1000, 1'000'000'007, TsKind::kMillisUtc, TsKind::kNanos, 3},
        RandomCase{4, 1500, 9000, 20, 25, 1, TsKind::kNanos, TsKind::kMillisUtc, 8},
        RandomCase{5, 3000, 3000, 1000, 200, -7, TsKind::kMicrosInt64, TsKind::kMillisUtc, 2}));

}  // namespace
}  // namespace falaj::features
