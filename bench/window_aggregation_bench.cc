// Offline windowed aggregation (training sets): 1 M events × 100 k entity rows over 10 k keys and
// 30 days, sum of an int64 and a float64 column and a count over 1h, 24h and 7d windows (9
// aggregates), through WindowAggregateJoin. Counters: entity rows/s and event rows/s. With
// FALAJ_WINDOW_BENCH_DUMP=DIR the inputs are also written to DIR/{events,entities}.parquet, so
// bench/window_aggregation_peers.py can time DuckDB on the very same rows.
#include <arrow/api.h>
#include <arrow/io/file.h>
#include <benchmark/benchmark.h>
#include <parquet/arrow/writer.h>

#include <cstdlib>
#include <random>

#include "features/window_aggregation.h"

namespace falaj::features {
namespace {

constexpr int64_t kEvents = 1'000'000;
constexpr int64_t kEntityRows = 100'000;
constexpr int64_t kKeys = 10'000;
constexpr int64_t kSpan = int64_t{30} * 86400 * 1'000'000;  // 30 days in µs

std::shared_ptr<arrow::Array> Int64s(const std::vector<int64_t>& values,
                                     std::shared_ptr<arrow::DataType> type) {
  arrow::Int64Builder builder;
  (void)builder.AppendValues(values);
  auto array = builder.Finish().ValueOrDie();
  return type->Equals(*arrow::int64()) ? array : array->View(type).ValueOrDie();
}

struct Inputs {
  std::shared_ptr<arrow::Table> events, entities;
};

void Dump(const Inputs& inputs) {
  const char* dir = std::getenv("FALAJ_WINDOW_BENCH_DUMP");
  if (!dir) return;
  for (const auto& [name, table] :
       {std::pair{"events", inputs.events}, {"entities", inputs.entities}}) {
    auto file = arrow::io::FileOutputStream::Open(std::string(dir) + "/" + name + ".parquet");
    if (!file.ok() ||
        !parquet::arrow::WriteTable(*table, arrow::default_memory_pool(), *file, 1 << 20).ok()) {
      std::fprintf(stderr, "cannot write %s/%s.parquet\n", dir, name);
      std::exit(1);
    }
  }
}

const Inputs& MakeInputs() {
  static const Inputs inputs = [] {
    std::mt19937_64 rng(42);
    const auto ts = arrow::timestamp(arrow::TimeUnit::MICRO, "UTC");
    std::vector<int64_t> keys(kEvents), times(kEvents), amounts(kEvents);
    std::vector<double> scores(kEvents);
    for (int64_t i = 0; i < kEvents; ++i) {
      keys[i] = static_cast<int64_t>(rng() % kKeys);
      times[i] = static_cast<int64_t>(rng() % kSpan);
      amounts[i] = static_cast<int64_t>(rng() % 10000);
      scores[i] = static_cast<double>(rng() % 1000) / 7.0;
    }
    arrow::DoubleBuilder score_builder;
    (void)score_builder.AppendValues(scores);
    Inputs made;
    made.events = arrow::Table::Make(
        arrow::schema({arrow::field("customer_id", arrow::int64()), arrow::field("event_time", ts),
                       arrow::field("amount", arrow::int64()),
                       arrow::field("score", arrow::float64())}),
        {Int64s(keys, arrow::int64()), Int64s(times, ts), Int64s(amounts, arrow::int64()),
         score_builder.Finish().ValueOrDie()});
    std::vector<int64_t> entity_keys(kEntityRows), entity_times(kEntityRows);
    for (int64_t i = 0; i < kEntityRows; ++i) {
      entity_keys[i] = static_cast<int64_t>(rng() % kKeys);
      entity_times[i] = static_cast<int64_t>(rng() % kSpan);
    }
    made.entities = arrow::Table::Make(
        arrow::schema({arrow::field("customer_id", arrow::int64()), arrow::field("ts", ts)}),
        {Int64s(entity_keys, arrow::int64()), Int64s(entity_times, ts)});
    Dump(made);
    return made;
  }();
  return inputs;
}

void BM_WindowAggregateJoin(benchmark::State& state) {
  const Inputs& inputs = MakeInputs();
  WindowViewData view{
      "spend", inputs.events, {"customer_id"}, "event_time", std::chrono::seconds(60), {}};
  for (const auto& [window, label] : {std::pair{3600, "1h"}, {86400, "24h"}, {604800, "7d"}}) {
    const std::chrono::seconds length(window);
    view.aggregates.push_back(
        {std::string("amount_sum_") + label, "amount", AggregateFunction::kSum, length});
    view.aggregates.push_back(
        {std::string("score_sum_") + label, "score", AggregateFunction::kSum, length});
    view.aggregates.push_back(
        {std::string("count_") + label, "", AggregateFunction::kCount, length});
  }
  for (auto _ : state) {
    auto columns = WindowAggregateJoin(inputs.entities, "ts", view);
    if (!columns) {
      state.SkipWithError(columns.error().message.c_str());
      return;
    }
    benchmark::DoNotOptimize(columns);
  }
  state.counters["entity_rows/s"] = benchmark::Counter(
      static_cast<double>(kEntityRows), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(kEvents),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_WindowAggregateJoin)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace falaj::features

BENCHMARK_MAIN();
