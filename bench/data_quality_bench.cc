// Throughput of the ingestion pipeline's data-quality steps on a synthetic 1M-row batch: the
// validator (a typical rule set, each check alone, and the split into accepted and quarantined
// rows) and column profiles (whole table and per column kind). Items are rows; Google Benchmark
// reports rows/s. One thread: ingestion validates a batch on one worker.
#include <arrow/api.h>
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <random>

#include "data/column_profile.h"
#include "data/validator.h"

namespace falaj::data {
namespace {

constexpr int64_t kRows = 1000000;
// 2026-11-24T12:00:00Z
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1795521600));

// A payments batch: ~1% of rows break some rule, as a real feed might.
std::shared_ptr<arrow::Table> MakeBatch() {
  std::mt19937_64 random(1);
  arrow::DoubleBuilder amount;
  arrow::StringBuilder currency;
  arrow::StringBuilder iban;
  arrow::Int64Builder customer;
  arrow::TimestampBuilder event_time(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                     arrow::default_memory_pool());
  const char* currencies[] = {"AED", "USD", "EUR", "GBP", "SAR", "xx"};
  std::lognormal_distribution<double> amounts(4.0, 1.5);
  int64_t now_us = 1795521600LL * 1000000;
  for (int64_t i = 0; i < kRows; ++i) {
    bool bad = random() % 100 == 0;
    if (bad && i % 2 == 0) {
      (void)amount.AppendNull();
    } else {
      (void)amount.Append(bad ? -5.0 : amounts(random));
    }
    (void)currency.Append(currencies[bad ? 5 : random() % 5]);
    (void)iban.Append(fmt::format("AE{:021}", random() % 1000000000000000000ULL));
    (void)customer.Append(bad ? 42 : i);
    (void)event_time.Append(now_us - static_cast<int64_t>(random() % 3600000000ULL));
  }
  auto schema = arrow::schema(
      {arrow::field("amount", arrow::float64()), arrow::field("currency", arrow::utf8()),
       arrow::field("iban", arrow::utf8()), arrow::field("customer_id", arrow::int64()),
       arrow::field("event_time", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))});
  return arrow::Table::Make(schema, {*amount.Finish(), *currency.Finish(), *iban.Finish(),
                                     *customer.Finish(), *event_time.Finish()});
}

const std::shared_ptr<arrow::Table>& Batch() {
  static const auto batch = MakeBatch();
  return batch;
}

// Five checks on four columns, the shape the brief calls "a handful of rules".
constexpr std::string_view kTypicalRules = R"(
rules:
  - {column: amount, not_null: true, range: {min: 0, max: 100000}, mostly: 0.95}
  - {column: currency, allowed_values: [AED, USD, EUR, GBP, SAR]}
  - {column: customer_id, unique: true}
  - {column: event_time, freshness: {max_age: 24h}}
  - row_count: {min: 1}
)";

void RunValidate(benchmark::State& state, std::string_view yaml) {
  const auto& batch = Batch();
  auto rules = ParseRulesYaml(yaml);
  if (!rules) return state.SkipWithError(rules.error().message.c_str());
  for (auto _ : state) {
    auto report = Validate(*batch, *rules, kNow);
    if (!report) state.SkipWithError(report.error().message.c_str());
    benchmark::DoNotOptimize(report);
  }
  state.SetItemsProcessed(state.iterations() * batch->num_rows());
}

void BM_ValidateTypicalRules(benchmark::State& state) { RunValidate(state, kTypicalRules); }
BENCHMARK(BM_ValidateTypicalRules)->Unit(benchmark::kMillisecond);

void BM_ValidateTypicalRulesAndRegex(benchmark::State& state) {
  RunValidate(state, std::string(kTypicalRules) + "  - {column: iban, regex: '^AE[0-9]{21}$'}\n");
}
BENCHMARK(BM_ValidateTypicalRulesAndRegex)->Unit(benchmark::kMillisecond);

// One check alone over 1M rows.
void BM_ValidateOneCheck(benchmark::State& state, std::string_view rule) {
  RunValidate(state, fmt::format("rules: [{}]", rule));
}
BENCHMARK_CAPTURE(BM_ValidateOneCheck, not_null_double, "{column: amount, not_null: true}")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ValidateOneCheck, range_double, "{column: amount, range: {min: 0, max: 1e5}}")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ValidateOneCheck, range_int64, "{column: customer_id, range: {min: 0}}")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ValidateOneCheck, allowed_strings,
                  "{column: currency, allowed_values: [AED, USD, EUR, GBP, SAR]}")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ValidateOneCheck, regex, "{column: iban, regex: '^AE[0-9]{21}$'}")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ValidateOneCheck, unique_int64, "{column: customer_id, unique: true}")
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ValidateOneCheck, unique_string, "{column: iban, unique: true}")
    ->Unit(benchmark::kMillisecond);

void BM_SplitByReport(benchmark::State& state) {
  const auto& batch = Batch();
  auto rules = ParseRulesYaml(kTypicalRules);
  auto report = rules ? Validate(*batch, *rules, kNow) : std::unexpected(rules.error());
  if (!report) return state.SkipWithError(report.error().message.c_str());
  for (auto _ : state) {
    auto split = SplitByReport(batch, *report);
    if (!split) state.SkipWithError(split.error().message.c_str());
    benchmark::DoNotOptimize(split);
  }
  state.SetItemsProcessed(state.iterations() * batch->num_rows());
  state.counters["quarantined"] = static_cast<double>(report->failed_row_count);
}
BENCHMARK(BM_SplitByReport)->Unit(benchmark::kMillisecond);

void BM_ProfileTable(benchmark::State& state) {
  const auto& batch = Batch();
  for (auto _ : state) {
    auto profile = ProfileTable(*batch);
    benchmark::DoNotOptimize(profile);
  }
  state.SetItemsProcessed(state.iterations() * batch->num_rows());
}
BENCHMARK(BM_ProfileTable)->Unit(benchmark::kMillisecond);

void BM_ProfileColumn(benchmark::State& state, std::string name) {
  const auto& batch = Batch();
  auto column = batch->GetColumnByName(name);
  for (auto _ : state) {
    auto profile = ProfileColumn(name, *column);
    benchmark::DoNotOptimize(profile);
  }
  state.SetItemsProcessed(state.iterations() * batch->num_rows());
}
BENCHMARK_CAPTURE(BM_ProfileColumn, double, std::string("amount"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ProfileColumn, string_low_cardinality, std::string("currency"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ProfileColumn, string_all_distinct, std::string("iban"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ProfileColumn, int64_all_distinct, std::string("customer_id"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ProfileColumn, timestamp, std::string("event_time"))
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace falaj::data

BENCHMARK_MAIN();
