#include "data/validator.h"

#include <arrow/api.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

namespace falaj::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Clock = std::chrono::system_clock;

// 2026-11-24T12:00:00Z
const Clock::time_point kNow = Clock::time_point(std::chrono::seconds(1795521600));

template <typename T, typename Builder>
std::shared_ptr<arrow::Array> Build(Builder builder, const std::vector<std::optional<T>>& values) {
  for (const auto& value : values) {
    if (value) {
      EXPECT_TRUE(builder.Append(*value).ok());
    } else {
      EXPECT_TRUE(builder.AppendNull().ok());
    }
  }
  return builder.Finish().ValueOrDie();
}

std::shared_ptr<arrow::Array> Ints(const std::vector<std::optional<int64_t>>& values) {
  return Build(arrow::Int64Builder(), values);
}
std::shared_ptr<arrow::Array> Doubles(const std::vector<std::optional<double>>& values) {
  return Build(arrow::DoubleBuilder(), values);
}
std::shared_ptr<arrow::Array> Strings(const std::vector<std::optional<std::string>>& values) {
  return Build(arrow::StringBuilder(), values);
}
std::shared_ptr<arrow::Array> Bools(const std::vector<std::optional<bool>>& values) {
  return Build(arrow::BooleanBuilder(), values);
}
std::shared_ptr<arrow::Array> Timestamps(const std::vector<std::optional<int64_t>>& values,
                                         arrow::TimeUnit::type unit = arrow::TimeUnit::SECOND) {
  return Build(arrow::TimestampBuilder(arrow::timestamp(unit, "UTC"), arrow::default_memory_pool()),
               values);
}

// `array` cut into chunks of `size` rows (slices, so chunks start at non-zero offsets).
std::shared_ptr<arrow::ChunkedArray> Chunked(const std::shared_ptr<arrow::Array>& array,
                                             int64_t size) {
  arrow::ArrayVector chunks;
  for (int64_t start = 0; start < array->length(); start += size) {
    chunks.push_back(array->Slice(start, std::min(size, array->length() - start)));
  }
  return std::make_shared<arrow::ChunkedArray>(chunks, array->type());
}

std::shared_ptr<arrow::Table> MakeTable(
    const std::vector<std::pair<std::string, std::shared_ptr<arrow::ChunkedArray>>>& columns) {
  arrow::FieldVector fields;
  arrow::ChunkedArrayVector data;
  for (const auto& [name, column] : columns) {
    fields.push_back(arrow::field(name, column->type()));
    data.push_back(column);
  }
  return arrow::Table::Make(arrow::schema(fields), data);
}

std::shared_ptr<arrow::Table> OneColumn(const std::string& name,
                                        const std::shared_ptr<arrow::Array>& array) {
  return MakeTable({{name, std::make_shared<arrow::ChunkedArray>(array)}});
}

ValidationRules Rules(std::string_view yaml) {
  auto rules = ParseRulesYaml(yaml);
  EXPECT_TRUE(rules) << rules.error().message;
  return rules ? *rules : ValidationRules{};
}

ValidationReport Check(const arrow::Table& table, std::string_view yaml) {
  auto report = Validate(table, Rules(yaml), kNow);
  EXPECT_TRUE(report) << report.error().message;
  return report ? *report : ValidationReport{};
}

std::vector<int64_t> FailedRows(const ValidationReport& report) {
  std::vector<int64_t> rows;
  for (int64_t row = 0; row < report.row_count; ++row) {
    if (!report.RowPassed(row)) rows.push_back(row);
  }
  return rows;
}

std::string ValidateError(const arrow::Table& table, std::string_view yaml) {
  auto report = Validate(table, Rules(yaml), kNow);
  EXPECT_FALSE(report);
  if (report) return "";
  EXPECT_EQ(report.error().code, ErrorCode::kInvalidArgument);
  return report.error().message;
}

TEST(ValidatorTest, NotNull) {
  auto table = OneColumn("amount", Ints({1, std::nullopt, 3, std::nullopt}));
  auto report = Check(*table, "rules: [{column: amount, not_null: true}]");
  EXPECT_THAT(FailedRows(report), ElementsAre(1, 3));
  const CheckResult& check = report.checks[0];
  EXPECT_EQ(check.description, "amount: not_null");
  EXPECT_EQ(check.evaluated, 4);
  EXPECT_EQ(check.failed, 2);
  EXPECT_DOUBLE_EQ(check.pass_fraction, 0.5);
  EXPECT_FALSE(check.passed);
  ASSERT_EQ(check.examples.size(), 2u);
  EXPECT_EQ(check.examples[1].row, 3);
  EXPECT_EQ(check.examples[1].value, "null");
  EXPECT_EQ(report.verdict, Verdict::kAcceptedWithQuarantine);
  EXPECT_EQ(report.FirstFailure(1), &report.checks[0]);
  EXPECT_EQ(report.FirstFailure(0), nullptr);
}

TEST(ValidatorTest, NotNullOnTheNullTypeAndNaN) {
  auto nulls = OneColumn("x", std::make_shared<arrow::NullArray>(3));
  EXPECT_EQ(Check(*nulls, "rules: [{column: x, not_null: true}]").failed_row_count, 3);
  // NaN is a value, not a null; range is where it fails.
  auto nan = OneColumn("x", Doubles({std::nan("")}));
  EXPECT_EQ(Check(*nan, "rules: [{column: x, not_null: true}]").failed_row_count, 0);
  EXPECT_EQ(Check(*nan, "rules: [{column: x, range: {min: 0}}]").failed_row_count, 1);
}

TEST(ValidatorTest, RangeOnIntegersIsInclusiveAndSkipsNulls) {
  auto table = OneColumn("amount", Ints({-1, 0, 5, 10000, 10001, std::nullopt}));
  auto report = Check(*table, "rules: [{column: amount, range: {min: 0, max: 10000}}]");
  EXPECT_THAT(FailedRows(report), ElementsAre(0, 4));
  EXPECT_EQ(report.checks[0].description, "amount: range [0, 10000]");
  EXPECT_EQ(report.checks[0].evaluated, 5);  // the null is not evaluated
  EXPECT_EQ(report.checks[0].examples[0].value, "-1");
  EXPECT_EQ(report.checks[0].examples[1].value, "10001");
}

TEST(ValidatorTest, RangeWithFractionalAndHugeBoundsOnIntegers) {
  auto table = OneColumn("n", Ints({0, 1, 2, INT64_MAX, INT64_MIN}));
  EXPECT_THAT(FailedRows(Check(*table, "rules: [{column: n, range: {min: 0.5, max: 1.5}}]")),
              ElementsAre(0, 2, 3, 4));
  EXPECT_THAT(FailedRows(Check(*table, "rules: [{column: n, range: {min: -1.0e30, max: 1.0e30}}]")),
              ElementsAre());
  EXPECT_THAT(FailedRows(Check(*table, "rules: [{column: n, range: {min: 1.0e30}}]")),
              ElementsAre(0, 1, 2, 3, 4));
  // Integer bounds are exact even beyond 2^53.
  auto big = OneColumn("n", Ints({9007199254740993, 9007199254740992}));
  EXPECT_THAT(FailedRows(Check(*big, "rules: [{column: n, range: {max: 9007199254740992}}]")),
              ElementsAre(0));
}

TEST(ValidatorTest, RangeOnOtherNumericTypes) {
  auto unsigned_bytes =
      Build(arrow::UInt8Builder(), std::vector<std::optional<uint8_t>>{0, 200, 255});
  EXPECT_THAT(FailedRows(Check(*OneColumn("u", unsigned_bytes),
                               "rules: [{column: u, range: {min: -5, max: 200}}]")),
              ElementsAre(2));
  auto floats = Build(arrow::FloatBuilder(), std::vector<std::optional<float>>{0.5f, 1.5f, -0.0f});
  EXPECT_THAT(
      FailedRows(Check(*OneColumn("f", floats), "rules: [{column: f, range: {min: 0, max: 1}}]")),
      ElementsAre(1));
  auto doubles = OneColumn("d", Doubles({-0.25, 0.0, 2.5, INFINITY, std::nullopt}));
  auto report = Check(*doubles, "rules: [{column: d, range: {min: 0}}]");
  EXPECT_THAT(FailedRows(report), ElementsAre(0));
  EXPECT_EQ(report.checks[0].description, "d: range [0, inf)");
  EXPECT_EQ(Check(*doubles, "rules: [{column: d, range: {max: 2.5}}]").checks[0].description,
            "d: range (-inf, 2.5]");
}

TEST(ValidatorTest, AllowedValues) {
  auto table = OneColumn("currency", Strings({"AED", "usd", std::nullopt, "EUR", ""}));
  auto report = Check(*table, "rules: [{column: currency, allowed_values: [AED, USD, EUR]}]");
  EXPECT_THAT(FailedRows(report), ElementsAre(1, 4));
  EXPECT_EQ(report.checks[0].description, "currency: allowed_values [AED, USD, EUR]");
  EXPECT_EQ(report.checks[0].examples[0].value, "usd");
  auto codes = OneColumn("code", Ints({1, 2, 7, std::nullopt}));
  EXPECT_THAT(FailedRows(Check(*codes, "rules: [{column: code, allowed_values: [1, 2, 3]}]")),
              ElementsAre(2));
  auto large = OneColumn(
      "s", Build(arrow::LargeStringBuilder(), std::vector<std::optional<std::string>>{"a", "b"}));
  EXPECT_THAT(FailedRows(Check(*large, "rules: [{column: s, allowed_values: [a]}]")),
              ElementsAre(1));
  auto views = OneColumn(
      "s", Build(arrow::StringViewBuilder(),
                 std::vector<std::optional<std::string>>{"a-long-string-beyond-inline", "b"}));
  EXPECT_THAT(FailedRows(Check(
                  *views, "rules: [{column: s, allowed_values: [a-long-string-beyond-inline]}]")),
              ElementsAre(1));
  auto many = Check(*table, "rules: [{column: currency, allowed_values: [a, b, c, d, e, f, g]}]");
  EXPECT_EQ(many.checks[0].description, "currency: allowed_values [a, b, c, d, e, ... 2 more]");
}

TEST(ValidatorTest, Regex) {
  auto table = OneColumn("iban", Strings({"AE070331234567890123456", "AE07", std::nullopt,
                                          "XAE070331234567890123456"}));
  auto report = Check(*table, R"(rules: [{column: iban, regex: "^AE[0-9]{21}$"}])");
  EXPECT_THAT(FailedRows(report), ElementsAre(1, 3));
  EXPECT_EQ(report.checks[0].description, "iban: regex ^AE[0-9]{21}$");
  // Unanchored patterns search.
  EXPECT_THAT(FailedRows(Check(*table, "rules: [{column: iban, regex: 'AE07033'}]")),
              ElementsAre(1));
  auto views = OneColumn("s", Build(arrow::StringViewBuilder(),
                                    std::vector<std::optional<std::string>>{"abc", "xyz"}));
  EXPECT_THAT(FailedRows(Check(*views, "rules: [{column: s, regex: '^a'}]")), ElementsAre(1));
}

TEST(ValidatorTest, UniqueFailsSecondAndLaterOccurrences) {
  auto ints = OneColumn("id", Ints({1, 2, 1, std::nullopt, std::nullopt, 1, 3}));
  auto report = Check(*ints, "rules: [{column: id, unique: true}]");
  EXPECT_THAT(FailedRows(report), ElementsAre(2, 5));
  EXPECT_EQ(report.checks[0].evaluated, 5);
  auto strings = OneColumn("s", Strings({"a", "b", "a", "a"}));
  EXPECT_THAT(FailedRows(Check(*strings, "rules: [{column: s, unique: true}]")), ElementsAre(2, 3));
  auto doubles = OneColumn("d", Doubles({0.0, -0.0, std::nan(""), std::nan(""), 1.5}));
  EXPECT_THAT(FailedRows(Check(*doubles, "rules: [{column: d, unique: true}]")), ElementsAre(1, 3));
  auto bools = OneColumn("b", Bools({true, false, true, std::nullopt}));
  EXPECT_THAT(FailedRows(Check(*bools, "rules: [{column: b, unique: true}]")), ElementsAre(2));
  auto times = OneColumn("t", Timestamps({100, 200, 100}));
  auto time_report = Check(*times, "rules: [{column: t, unique: true}]");
  EXPECT_THAT(FailedRows(time_report), ElementsAre(2));
  EXPECT_EQ(time_report.checks[0].examples[0].value, "1970-01-01T00:01:40Z");
}

TEST(ValidatorTest, UniqueAcrossChunks) {
  auto column = Chunked(Ints({1, 2, 3, 4, 2, 5, 1}), 3);
  auto report = Check(*MakeTable({{"id", column}}), "rules: [{column: id, unique: true}]");
  EXPECT_THAT(FailedRows(report), ElementsAre(4, 6));
}

TEST(ValidatorTest, FreshnessIsBatchLevel) {
  int64_t now = 1795521600;
  auto fresh = OneColumn("t", Timestamps({now - 90000, now - 3600, std::nullopt}));
  auto report = Check(*fresh, "rules: [{column: t, freshness: {max_age: 24h}}]");
  EXPECT_EQ(report.verdict, Verdict::kAccepted);
  EXPECT_EQ(report.checks[0].description, "t: freshness max_age 1d");
  EXPECT_EQ(report.checks[0].observed, "newest value 2026-11-24T11:00:00Z is 1.0h old");
  EXPECT_EQ(report.failed_row_count, 0);
  auto stale = OneColumn("t", Timestamps({now - 86401}));
  auto stale_report = Check(*stale, "rules: [{column: t, freshness: {max_age: 24h}}]");
  EXPECT_EQ(stale_report.verdict, Verdict::kRejected);
  EXPECT_EQ(stale_report.rejected_by, 0);
  EXPECT_FALSE(stale_report.checks[0].passed);
  EXPECT_EQ(stale_report.failed_row_count, 0);  // batch-level: no row is blamed
  auto boundary = OneColumn("t", Timestamps({now - 86400}));
  EXPECT_EQ(Check(*boundary, "rules: [{column: t, freshness: {max_age: 1d}}]").verdict,
            Verdict::kAccepted);
  auto nanos = OneColumn("t", Timestamps({(now - 10) * 1000000000}, arrow::TimeUnit::NANO));
  EXPECT_EQ(Check(*nanos, "rules: [{column: t, freshness: {max_age: 15s}}]").verdict,
            Verdict::kAccepted);
  EXPECT_EQ(Check(*nanos, "rules: [{column: t, freshness: {max_age: 5s}}]").verdict,
            Verdict::kRejected);
  auto empty = OneColumn("t", Timestamps({std::nullopt}));
  auto empty_report = Check(*empty, "rules: [{column: t, freshness: {max_age: 1d}}]");
  EXPECT_EQ(empty_report.verdict, Verdict::kRejected);
  EXPECT_EQ(empty_report.checks[0].observed, "no timestamp values");
}

TEST(ValidatorTest, RowCount) {
  auto table = OneColumn("x", Ints({1, 2, 3}));
  EXPECT_EQ(Check(*table, "rules: [{row_count: {min: 3, max: 3}}]").verdict, Verdict::kAccepted);
  auto report = Check(*table, "rules: [{row_count: {min: 4}}]");
  EXPECT_EQ(report.verdict, Verdict::kRejected);
  EXPECT_EQ(report.checks[0].description, "row_count [4, inf)");
  EXPECT_EQ(report.checks[0].observed, "3 rows");
  EXPECT_EQ(Check(*table, "rules: [{row_count: {max: 2}}]").verdict, Verdict::kRejected);
}

TEST(ValidatorTest, DeclaredType) {
  auto table = MakeTable({{"amount", std::make_shared<arrow::ChunkedArray>(Strings({"1", "x"}))},
                          {"n", std::make_shared<arrow::ChunkedArray>(Ints({1, 2}))}});
  auto report = Check(*table,
                      "rules:\n"
                      "  - {column: amount, range: {min: 0}, not_null: true}\n"
                      "  - {column: amount, type: float64}\n"
                      "  - {column: n, type: float64, range: {max: 1}}\n");
  // amount's type is wrong: its checks are skipped (range on a string would be an error) and the
  // batch is rejected by the type check.
  EXPECT_EQ(report.verdict, Verdict::kRejected);
  EXPECT_EQ(report.checks[report.rejected_by].description, "amount: type float64");
  EXPECT_EQ(report.checks[report.rejected_by].observed, "column type string");
  EXPECT_TRUE(report.checks[0].skipped);
  EXPECT_TRUE(report.checks[1].skipped);
  EXPECT_TRUE(report.checks[3].passed);  // integers are acceptable float64 data
  EXPECT_THAT(FailedRows(report), ElementsAre(1));
  struct Case {
    std::shared_ptr<arrow::Array> array;
    std::string type;
    bool passes;
  };
  std::vector<Case> cases = {
      {Ints({1}), "int64", true},
      {Build(arrow::UInt32Builder(), std::vector<std::optional<uint32_t>>{1}), "int64", true},
      {Build(arrow::UInt64Builder(), std::vector<std::optional<uint64_t>>{1}), "int64", false},
      {Doubles({1}), "int64", false},
      {Strings({"a"}), "string", true},
      {Bools({true}), "bool", true},
      {Ints({1}), "bool", false},
      {Timestamps({1}), "timestamp", true},
      {Ints({1}), "timestamp", false},
      {std::make_shared<arrow::NullArray>(1), "timestamp", true},
  };
  for (const auto& c : cases) {
    auto verdict =
        Check(*OneColumn("c", c.array), "rules: [{column: c, type: " + c.type + "}]").verdict;
    EXPECT_EQ(verdict == Verdict::kAccepted, c.passes)
        << c.array->type()->ToString() << " as " << c.type;
  }
}

// 100 rows of which `failing` are out of range, under a rule with mostly 0.99.
ValidationReport MostlyCase(int failing, std::string_view policy) {
  std::vector<std::optional<int64_t>> values(100, 5);
  for (int i = 0; i < failing; ++i) values[i * 7] = -1;
  return Check(
      *OneColumn("x", Ints(values)),
      fmt::format("policy: {}\nrules: [{{column: x, range: {{min: 0}}, mostly: 0.99}}]", policy));
}

TEST(ValidatorTest, MostlyThresholdAtTheBoundary) {
  auto at = MostlyCase(1, "strict");
  EXPECT_DOUBLE_EQ(at.checks[0].pass_fraction, 0.99);
  EXPECT_TRUE(at.checks[0].passed);
  // Passing its threshold does not let failing rows through: they are quarantined.
  EXPECT_EQ(at.verdict, Verdict::kAcceptedWithQuarantine);
  EXPECT_THAT(FailedRows(at), ElementsAre(0));
  auto below = MostlyCase(2, "strict");
  EXPECT_FALSE(below.checks[0].passed);
  EXPECT_EQ(below.verdict, Verdict::kRejected);
  EXPECT_EQ(below.rejected_by, 0);
  auto quarantine = MostlyCase(2, "quarantine");
  EXPECT_FALSE(quarantine.checks[0].passed);
  EXPECT_EQ(quarantine.verdict, Verdict::kAcceptedWithQuarantine);
  EXPECT_EQ(quarantine.failed_row_count, 2);
  EXPECT_EQ(MostlyCase(0, "strict").verdict, Verdict::kAccepted);
}

TEST(ValidatorTest, PoliciesAndBatchLevelRejection) {
  auto table = OneColumn("x", Ints({1, -1, 2}));
  auto quarantine = Check(*table, "rules: [{column: x, range: {min: 0}}]");
  EXPECT_EQ(quarantine.policy, ValidationPolicy::kQuarantine);
  EXPECT_EQ(quarantine.verdict, Verdict::kAcceptedWithQuarantine);
  EXPECT_EQ(Check(*table, "policy: strict\nrules: [{column: x, range: {min: 0}}]").verdict,
            Verdict::kRejected);
  EXPECT_EQ(Check(*table, "policy: strict\nrules: [{column: x, range: {min: -5}}]").verdict,
            Verdict::kAccepted);
  auto batch = Check(*table, "rules: [{column: x, range: {min: 0}}, {row_count: {min: 10}}]");
  EXPECT_EQ(batch.verdict, Verdict::kRejected);
  EXPECT_EQ(batch.rejected_by, 1);  // the batch-level check, though the range check failed first
  EXPECT_EQ(Check(*table, "rules: []").verdict, Verdict::kAccepted);
}

TEST(ValidatorTest, RowsReportTheFirstCheckTheyBroke) {
  auto table = MakeTable(
      {{"a", std::make_shared<arrow::ChunkedArray>(Ints({std::nullopt, -1, 5, -1}))},
       {"b", std::make_shared<arrow::ChunkedArray>(Strings({"x", "x", "bad", std::nullopt}))}});
  auto report = Check(*table,
                      "rules:\n"
                      "  - {column: b, allowed_values: [x]}\n"
                      "  - {column: a, range: {min: 0}, not_null: true}\n");
  ASSERT_EQ(report.checks.size(), 3u);
  EXPECT_EQ(report.FirstFailure(0)->description, "a: not_null");  // not_null runs before range
  EXPECT_EQ(report.FirstFailure(1)->description, "a: range [0, inf)");
  EXPECT_EQ(report.FirstFailure(2)->description, "b: allowed_values [x]");
  EXPECT_EQ(report.FirstFailure(3)->description, "a: range [0, inf)");
  EXPECT_EQ(report.FirstFailure(1)->rule_index, 1);
}

TEST(ValidatorTest, MisconfiguredRulesAreErrors) {
  auto table = MakeTable({{"n", std::make_shared<arrow::ChunkedArray>(Ints({1}))},
                          {"s", std::make_shared<arrow::ChunkedArray>(Strings({"a"}))},
                          {"dup", std::make_shared<arrow::ChunkedArray>(Ints({1}))},
                          {"dup", std::make_shared<arrow::ChunkedArray>(Ints({1}))}});
  EXPECT_THAT(
      ValidateError(*table, "rules: [{column: n, not_null: true}, {column: gone, unique: true}]"),
      HasSubstr("rules[1] (column 'gone'): the batch has 0 columns named 'gone'"));
  EXPECT_THAT(ValidateError(*table, "rules: [{column: dup, unique: true}]"),
              HasSubstr("the batch has 2 columns named 'dup'"));
  EXPECT_THAT(
      ValidateError(*table, "rules: [{column: n, regex: 'a'}]"),
      HasSubstr("rules[0] (column 'n'): regex needs a string column, and the column is int64"));
  EXPECT_THAT(ValidateError(*table, "rules: [{column: s, range: {min: 0}}]"),
              HasSubstr("range needs a numeric column, and the column is string"));
  EXPECT_THAT(ValidateError(*table, "rules: [{column: n, allowed_values: [a]}]"),
              HasSubstr("allowed_values of strings needs a string column"));
  EXPECT_THAT(ValidateError(*table, "rules: [{column: s, allowed_values: [1]}]"),
              HasSubstr("allowed_values of integers needs an integer column"));
  EXPECT_THAT(ValidateError(*table, "rules: [{column: n, freshness: {max_age: 1h}}]"),
              HasSubstr("freshness needs a timestamp column"));
  auto dates =
      OneColumn("d", Build(arrow::Date32Builder(), std::vector<std::optional<int32_t>>{1}));
  EXPECT_THAT(ValidateError(*dates, "rules: [{column: d, unique: true}]"),
              HasSubstr("unique needs a numeric, string, bool or timestamp column"));
}

TEST(ValidatorTest, ChunkingDoesNotChangeTheResult) {
  std::mt19937_64 random(42);
  std::vector<std::optional<int64_t>> ints;
  std::vector<std::optional<std::string>> strings;
  for (int i = 0; i < 5000; ++i) {
    ints.push_back(random() % 10 == 0 ? std::nullopt
                                      : std::optional<int64_t>(random() % 2000 - 100));
    strings.push_back(random() % 13 == 0
                          ? std::nullopt
                          : std::optional<std::string>(fmt::format("k{}", random() % 3000)));
  }
  constexpr std::string_view kRules =
      "rules:\n"
      "  - {column: n, not_null: true, range: {min: 0, max: 1500}, mostly: 0.5}\n"
      "  - {column: s, regex: '^k1', unique: true}\n"
      "  - {column: n, unique: true, allowed_values: [5, 6, 7, 8]}\n";
  auto whole =
      Check(*MakeTable({{"n", Chunked(Ints(ints), 5000)}, {"s", Chunked(Strings(strings), 5000)}}),
            kRules);
  for (int64_t size : {1, 7, 64, 999}) {
    auto chunked = Check(
        *MakeTable({{"n", Chunked(Ints(ints), size)}, {"s", Chunked(Strings(strings), size)}}),
        kRules);
    EXPECT_EQ(chunked.first_failure, whole.first_failure) << size;
    for (size_t i = 0; i < whole.checks.size(); ++i) {
      EXPECT_EQ(chunked.checks[i].failed, whole.checks[i].failed) << size << " " << i;
    }
  }
  // And against a plain count written here.
  int64_t out_of_range = 0;
  for (const auto& value : ints) out_of_range += value && (*value < 0 || *value > 1500);
  EXPECT_EQ(whole.checks[1].failed, out_of_range);
}

TEST(ValidatorTest, ExamplesAreCappedAndValidUtf8) {
  std::vector<std::optional<std::string>> values(
      20, std::string("\xff\xfe bad bytes ") + std::string(100, 'x'));
  auto report =
      Check(*OneColumn("s", Strings(values)), "rules: [{column: s, allowed_values: [ok]}]");
  EXPECT_EQ(report.checks[0].failed, 20);
  ASSERT_EQ(report.checks[0].examples.size(), 5u);
  const std::string& example = report.checks[0].examples[0].value;
  EXPECT_LE(example.size(), 67u);
  EXPECT_TRUE(example.starts_with("\xEF\xBF\xBD\xEF\xBF\xBD bad bytes"));
  EXPECT_NO_THROW(ReportToJson(report).dump());
}

TEST(ValidatorTest, SplitByReport) {
  auto table = MakeTable({{"id", Chunked(Ints({1, 2, 3, 4, 5}), 2)},
                          {"c", Chunked(Strings({"AED", "x", "USD", "y", "EUR"}), 3)}});
  auto report = Check(*table, "rules: [{column: c, allowed_values: [AED, USD, EUR]}]");
  auto split = SplitByReport(table, report);
  ASSERT_TRUE(split) << split.error().message;
  EXPECT_EQ(split->accepted->num_rows(), 3);
  EXPECT_TRUE(split->accepted->schema()->Equals(*table->schema()));
  auto expected_accepted = MakeTable(
      {{"id", Chunked(Ints({1, 3, 5}), 3)}, {"c", Chunked(Strings({"AED", "USD", "EUR"}), 3)}});
  EXPECT_TRUE(split->accepted->Equals(*expected_accepted));
  const auto& quarantined = *split->quarantined;
  ASSERT_EQ(quarantined.num_rows(), 2);
  ASSERT_EQ(quarantined.num_columns(), 4);
  EXPECT_EQ(quarantined.field(2)->name(), "_falaj_rule");
  EXPECT_EQ(quarantined.field(3)->name(), "_falaj_row");
  EXPECT_EQ(quarantined.field(2)->type()->id(), arrow::Type::STRING);
  EXPECT_EQ(quarantined.field(3)->type()->id(), arrow::Type::INT64);
  const std::string rule = "c: allowed_values [AED, USD, EUR]";
  EXPECT_TRUE(quarantined.column(0)->Equals(*Chunked(Ints({2, 4}), 2)));
  EXPECT_TRUE(quarantined.column(1)->Equals(*Chunked(Strings({"x", "y"}), 2)));
  EXPECT_TRUE(quarantined.column(2)->Equals(*Chunked(Strings({rule, rule}), 2)));
  EXPECT_TRUE(quarantined.column(3)->Equals(*Chunked(Ints({1, 3}), 2))) << quarantined.ToString();
}

TEST(ValidatorTest, SplitOfACleanBatchCopiesNothing) {
  auto table = OneColumn("x", Ints({1, 2}));
  auto split = SplitByReport(table, Check(*table, "rules: [{column: x, not_null: true}]"));
  ASSERT_TRUE(split);
  EXPECT_EQ(split->accepted, table);
  EXPECT_EQ(split->quarantined->num_rows(), 0);
  EXPECT_EQ(split->quarantined->num_columns(), 3);
}

TEST(ValidatorTest, SplitOfARejectedBatchQuarantinesEverything) {
  auto table = OneColumn("x", Ints({1, -1, 2}));
  auto report = Check(*table, "rules: [{column: x, range: {min: 0}}, {row_count: {min: 10}}]");
  auto split = SplitByReport(table, report);
  ASSERT_TRUE(split);
  EXPECT_EQ(split->accepted->num_rows(), 0);
  ASSERT_EQ(split->quarantined->num_rows(), 3);
  auto rules = split->quarantined->GetColumnByName("_falaj_rule");
  auto texts = std::static_pointer_cast<arrow::StringArray>(rules->chunk(0));
  EXPECT_EQ(texts->GetString(0), "batch rejected: row_count [10, inf)");
  EXPECT_EQ(texts->GetString(1), "x: range [0, inf)");
}

TEST(ValidatorTest, SplitRefusesAForeignReportOrReservedColumns) {
  auto table = OneColumn("x", Ints({1, 2}));
  auto other = OneColumn("x", Ints({1}));
  EXPECT_FALSE(SplitByReport(table, Check(*other, "rules: []")));
  auto reserved = OneColumn("_falaj_row", Ints({1}));
  auto split = SplitByReport(reserved, Check(*reserved, "rules: []"));
  ASSERT_FALSE(split);
  EXPECT_THAT(split.error().message, HasSubstr("_falaj_row"));
}

TEST(ValidatorTest, ReportToJson) {
  auto table = OneColumn("x", Ints({-1, 1, -2, -3}));
  auto report = Check(*table, "policy: strict\nrules: [{column: x, range: {min: 0}, mostly: 0.2}]");
  auto json = ReportToJson(report, 2);
  EXPECT_EQ(json["policy"], "strict");
  EXPECT_EQ(json["verdict"], "accepted_with_quarantine");
  EXPECT_EQ(json["row_count"], 4);
  EXPECT_EQ(json["failed_row_count"], 3);
  EXPECT_TRUE(json["rejected_by"].is_null());
  const auto& check = json["checks"][0];
  EXPECT_EQ(check["rule"], 0);
  EXPECT_EQ(check["kind"], "range");
  EXPECT_EQ(check["description"], "x: range [0, inf)");
  EXPECT_EQ(check["evaluated"], 4);
  EXPECT_EQ(check["failed"], 3);
  EXPECT_EQ(check["pass_fraction"], 0.25);
  EXPECT_EQ(check["mostly"], 0.2);
  EXPECT_EQ(check["passed"], true);
  EXPECT_EQ(check["examples"][2]["row"], 3);
  EXPECT_EQ(check["examples"][2]["value"], "-3");
  EXPECT_EQ(json["failed_rows"],
            nlohmann::json::parse(R"([{"row": 0, "check": 0}, {"row": 2, "check": 0}])"));
  EXPECT_EQ(json["failed_rows_truncated"], true);
  EXPECT_EQ(ReportToJson(report)["failed_rows_truncated"], false);
}

}  // namespace
}  // namespace falaj::data
