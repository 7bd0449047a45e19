// The cost of monitoring on the prediction log's writer thread: MonitorService::OnPrediction per
// row, with one monitor watching the endpoint (the reference bins, a quantile sketch and the
// missing count per feature, plus prediction drift). Arguments: features per row, rows per
// record (1: an online request; 32: a batched one). Reported as ns per row (items_per_second's
// inverse) and per value. docs/monitoring.md records the figures.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>

#include "common/metrics.h"
#include "common/random.h"
#include "monitoring/monitor_service.h"
#include "monitoring/monitor_test_support.h"
#include "storage/metadata_store.h"

namespace falaj::monitoring {
namespace {

void BM_OnPrediction(benchmark::State& state) {
  const auto features = static_cast<size_t>(state.range(0));
  const auto rows = static_cast<size_t>(state.range(1));
  std::vector<std::string> names;
  for (size_t f = 0; f < features; ++f) names.push_back("f" + std::to_string(f));
  auto directory = std::filesystem::temp_directory_path() / ("monitor-bench-" + RandomHex(6));
  std::filesystem::create_directories(directory);
  {
    auto store = storage::OpenMetadataStore("sqlite://" + (directory / "m.db").string(), 1);
    if (!store || !(*store)->Migrate(MonitorService::Migrations())) {
      state.SkipWithError("cannot open the metadata store");
      return;
    }
    FakeReferences references(names);
    MonitoredValues values;
    metrics::Registry registry;
    FakeClock clock;
    MonitorService service(**store, references, values, registry, clock);
    if (!service.Create("p", {{"name", "m"}, {"endpoint", "e"}, {"model", "m"}}, "bench")) {
      state.SkipWithError("cannot create the monitor");
      return;
    }
    // Distinct records in turn: one record repeated would feed the sketches the same values
    // over and over, and sorting equal values is unrealistically cheap.
    std::vector<serving::PredictionRecord> records(64);
    std::mt19937_64 random(3);
    std::normal_distribution<float> normal(4.0f, 2.0f);
    for (auto& record : records) {
      record.project = "p";
      record.endpoint = "e";
      record.model = "m";
      record.feature_names = names;
      record.rows = rows;
      for (size_t i = 0; i < rows * features; ++i) record.inputs.push_back(normal(random));
      for (size_t r = 0; r < rows; ++r) record.outputs.push_back(normal(random) / 8.0f);
    }
    size_t next = 0;
    for (auto _ : state) {
      service.OnPrediction(records[next]);
      next = (next + 1) % records.size();
    }
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(rows));
  }
  std::filesystem::remove_all(directory);
}
BENCHMARK(BM_OnPrediction)->Args({10, 1})->Args({30, 1})->Args({10, 32})->Args({30, 32});

}  // namespace
}  // namespace falaj::monitoring

BENCHMARK_MAIN();
