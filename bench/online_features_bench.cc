// The online feature store above the KvStore, in process, on RocksDB: full materialisation (an
// Arrow table of entity rows → each entity's latest row) with and without the bulk-load path, in
// rows/s, and online reads through a PreparedRead — key building, multi-get, decoding the
// selected features, TTL check — for 1 and 64 entities × 50 float64 features, in entity
// lookups/s. Same data, same run.
//
// FALAJ_ONLINE_BENCH_ENTITIES sets the number of entities (default 1,000,000);
// FALAJ_ONLINE_BENCH_URI_OPTIONS the rocksdb:// URI's query, e.g.
// "block_cache_mb=1024&row_cache_mb=0".
#include <arrow/api.h>
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>

#include "features/online_read_plan.h"
#include "features/online_store.h"
#include "storage/kv_store.h"

namespace falaj::features {
namespace {

namespace fs = std::filesystem;

constexpr int kFeatures = 50;

int64_t EntityCount() {
  const char* text = std::getenv("FALAJ_ONLINE_BENCH_ENTITIES");
  return text != nullptr ? std::strtoll(text, nullptr, 10) : 1000000;
}

std::string StoreUri(const fs::path& directory) {
  const char* options = std::getenv("FALAJ_ONLINE_BENCH_URI_OPTIONS");
  return "rocksdb://" + directory.string() + (options != nullptr ? std::string("?") + options : "");
}

ResolvedView View() {
  ResolvedView view;
  view.view.name = "bench";
  view.view.timestamp_field = "ts";
  for (int f = 0; f < kFeatures; ++f) {
    view.view.features.push_back({"f" + std::to_string(f), data::ColumnType::kFloat64});
  }
  view.join_keys = {"id"};
  view.join_key_types = {data::ColumnType::kInt64};
  view.selected = view.view.features;
  return view;
}

// `rows` entity rows with ids [first, first + rows), timestamps an hour ago.
std::shared_ptr<arrow::Table> Rows(int64_t first, int64_t rows) {
  arrow::Int64Builder ids;
  arrow::TimestampBuilder times(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                                arrow::default_memory_pool());
  const int64_t hour_ago =
      std::chrono::duration_cast<std::chrono::microseconds>(
          (std::chrono::system_clock::now() - std::chrono::hours(1)).time_since_epoch())
          .count();
  std::mt19937_64 random(first);
  std::uniform_real_distribution<double> value(0, 100);
  arrow::FieldVector fields = {arrow::field("id", arrow::int64()),
                               arrow::field("ts", arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"))};
  arrow::ArrayVector arrays;
  for (int64_t i = 0; i < rows; ++i) {
    (void)ids.Append(first + i);
    (void)times.Append(hour_ago + i);
  }
  arrays.push_back(*ids.Finish());
  arrays.push_back(*times.Finish());
  for (int f = 0; f < kFeatures; ++f) {
    arrow::DoubleBuilder column;
    (void)column.Reserve(rows);
    for (int64_t i = 0; i < rows; ++i) column.UnsafeAppend(value(random));
    arrays.push_back(*column.Finish());
    fields.push_back(arrow::field("f" + std::to_string(f), arrow::float64()));
  }
  return arrow::Table::Make(arrow::schema(fields), arrays, rows);
}

struct Fixture {
  fs::path directory;
  std::unique_ptr<storage::KvStore> kv;
  std::unique_ptr<OnlineStore> store;
  ResolvedView view = View();
};

Fixture& Warm() {
  static Fixture* fixture = [] {
    auto* made = new Fixture;
    made->directory =
        fs::temp_directory_path() / ("falaj_online_bench_" + std::to_string(getpid()));
    fs::remove_all(made->directory);
    auto kv = storage::OpenKvStore(StoreUri(made->directory));
    if (!kv) std::abort();
    made->kv = std::move(*kv);
    made->store = std::make_unique<OnlineStore>(*made->kv);
    // One full materialisation, as a first load of a view is.
    auto rows = Rows(0, EntityCount());
    if (!made->store->WriteLatest("p", made->view, *rows, std::chrono::system_clock::now(),
                                  storage::KvWriteMode::kBulk)) {
      std::abort();
    }
    if (!made->store->Flush()) std::abort();
    // Warm: read every entity once, so lookups measure the caches rather than the first reads of
    // freshly ingested files (the bulk load leaves them out of the OS page cache).
    const PreparedRead plan(
        "p", std::make_shared<std::vector<ResolvedView>>(std::vector<ResolvedView>{made->view}));
    std::vector<EntityKey> ids(1000);
    const std::span<const EntityKey> columns[] = {ids};
    OnlineReadResult out;
    for (int64_t first = 0; first < EntityCount(); first += static_cast<int64_t>(ids.size())) {
      for (size_t i = 0; i < ids.size(); ++i) ids[i].integer = first + static_cast<int64_t>(i);
      if (!plan.Read(*made->kv, columns, ids.size(), 0, false, out)) std::abort();
    }
    return made;
  }();
  // The store is 0.5 GB on disk: removed at exit rather than left in the temp directory.
  static const int cleanup = std::atexit([] {
    fixture->store.reset();
    fixture->kv.reset();
    fs::remove_all(fixture->directory);
  });
  (void)cleanup;
  return *fixture;
}

// A full materialisation of 1M rows (1M entities) into an empty view of a fresh store, Flush()
// included as the materialiser does it, in rows/s: range(0) = 1 takes the bulk-load path (sorted
// table files ingested), 0 forces the batched-write path it replaces. Each iteration loads a new
// view, so every load starts empty.
void BM_MaterializeFull(benchmark::State& state) {
  const fs::path directory =
      fs::temp_directory_path() / ("falaj_online_bench_load_" + std::to_string(getpid()));
  fs::remove_all(directory);
  auto kv = storage::OpenKvStore(StoreUri(directory));
  if (!kv) {
    state.SkipWithError(kv.error().message.c_str());
    return;
  }
  OnlineStore store(**kv, state.range(0) == 1 ? OnlineStore::kDefaultBulkLoadMinEntities
                                              : std::numeric_limits<size_t>::max());
  ResolvedView view = View();
  static const auto rows = Rows(0, 1000000);
  int64_t written = 0, loads = 0;
  for (auto _ : state) {
    view.view.name = "load" + std::to_string(loads++);
    auto result = store.WriteLatest("p", view, *rows, std::chrono::system_clock::now(),
                                    storage::KvWriteMode::kBulk);
    if (!result || !store.Flush()) {
      state.SkipWithError("materialisation failed");
      break;
    }
    written += *result;
  }
  state.SetItemsProcessed(written);
  kv->reset();
  fs::remove_all(directory);
}
BENCHMARK(BM_MaterializeFull)
    ->ArgName("bulk")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Online reads of `range(0)` random entities × 50 features per call.
void BM_OnlineRead(benchmark::State& state) {
  Fixture& fixture = Warm();
  const int64_t batch = state.range(0);
  const int64_t entities = EntityCount();
  std::mt19937_64 random(state.thread_index() + 1);
  std::uniform_int_distribution<int64_t> pick(0, entities - 1);
  std::vector<EntityKey> ids(static_cast<size_t>(batch));
  const std::span<const EntityKey> columns[] = {ids};
  const PreparedRead plan(
      "p", std::make_shared<std::vector<ResolvedView>>(std::vector<ResolvedView>{fixture.view}));
  OnlineReadResult out;
  int64_t present = 0;
  for (auto _ : state) {
    for (auto& id : ids) id.integer = pick(random);
    const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    auto read = plan.Read(*fixture.kv, columns, ids.size(), now, false, out);
    if (!read) state.SkipWithError(read.error().message.c_str());
    present += out.status(0, 0) == FeatureStatus::kPresent;
    benchmark::DoNotOptimize(out.cell(0, kFeatures - 1).real);
  }
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["present_fraction"] =
      benchmark::Counter(static_cast<double>(present) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}
BENCHMARK(BM_OnlineRead)->Arg(1)->Arg(64)->Threads(1)->Threads(2)->UseRealTime();

}  // namespace
}  // namespace falaj::features

BENCHMARK_MAIN();
