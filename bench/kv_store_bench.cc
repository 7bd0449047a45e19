// KvStore benchmarks for the online feature store: multi-get lookups on a warm store (batches of
// 1 and 64 entity keys, from 1 and 2 threads) and bulk loads in 10k-row batches, on RocksDB and on
// a redis-server this program starts (unix socket), so both backends are compared in one run.
//
// Each entity row is 50 float32 features plus a small header (~210 bytes). The warm stores hold
// FALAJ_KV_BENCH_ENTITIES rows (default 1,000,000): RocksDB twice, with a row cache that fits
// every row and with the block cache alone (row_cache_mb=0), and Redis once. Counters:
// items_per_second = rows or lookups per second; allocs_per_call = operator new calls per MultiGet
// on the calling thread (RocksDB's and ours; hiredis allocates with malloc, which this does not
// see).
#include <benchmark/benchmark.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/kv_store.h"

extern char** environ;

// Counts this thread's heap allocations, to show that steady-state lookups do not allocate. GCC
// sees the replaced operator delete's free() inlined against operator new and warns, wrongly:
// both are the malloc family here.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
namespace {
thread_local uint64_t allocations = 0;
}  // namespace
void* operator new(size_t size) {
  ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace falaj::storage {
namespace {

namespace fs = std::filesystem;

constexpr int kFeatures = 50;
constexpr size_t kLoadBatch = 10000;

size_t EntityCount() {
  const char* text = std::getenv("FALAJ_KV_BENCH_ENTITIES");
  return text != nullptr ? std::strtoull(text, nullptr, 10) : 1000000;
}

std::string EntityKey(size_t i) {
  char key[32];
  int n = std::snprintf(key, sizeof(key), "fv1/customer/%010zu", i);
  return std::string(key, n);
}

// A version byte, a feature count, then the features as little-endian float32.
std::string FeatureRow(size_t entity) {
  std::string row;
  row.push_back(1);
  row.push_back(static_cast<char>(kFeatures));
  for (int f = 0; f < kFeatures; ++f) {
    float value = static_cast<float>(entity % 1000) * 0.001f + static_cast<float>(f);
    char bytes[sizeof(float)];
    std::memcpy(bytes, &value, sizeof(float));
    row.append(bytes, sizeof(float));
  }
  row.append(8, '\0');  // room for a timestamp, as a real row would carry
  return row;
}

void Die(const std::string& message) {
  std::fprintf(stderr, "kv_store_bench: %s\n", message.c_str());
  std::exit(1);
}

std::unique_ptr<KvStore> OpenOrDie(const std::string& uri) {
  auto store = OpenKvStore(uri);
  if (!store) Die(store.error().message);
  return std::move(*store);
}

// Writes rows [first, first + count) in kLoadBatch-row batches. Rows are serialised once, up
// front, so the timing is the store's rather than the serialiser's.
void Load(KvStore& store, size_t first, size_t count, KvWriteMode mode) {
  static const std::vector<std::string> rows = [] {
    std::vector<std::string> built;
    for (size_t i = 0; i < kLoadBatch; ++i) built.push_back(FeatureRow(i));
    return built;
  }();
  std::vector<std::string> keys(kLoadBatch);
  std::vector<KvEntry> batch;
  for (size_t start = first; start < first + count; start += kLoadBatch) {
    batch.clear();
    for (size_t i = 0; i < kLoadBatch && start + i < first + count; ++i) {
      keys[i] = EntityKey(start + i);
      batch.push_back(KvEntry{keys[i], rows[(start + i) % kLoadBatch]});
    }
    if (auto written = store.Write(batch, mode); !written) Die(written.error().message);
  }
}

// A redis-server on a unix socket in a temp directory, for the life of the program.
class RedisServer {
 public:
  RedisServer() {
    std::string pattern = (fs::temp_directory_path() / "falaj_kv_bench_redis_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) Die("mkdtemp failed");
    dir_ = pattern;
    std::vector<std::string> args = {
        "redis-server", "--port", "0",     "--unixsocket", socket(),    "--save",     "",
        "--appendonly", "no",     "--dir", dir_,           "--logfile", dir_ + "/log"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, "/usr/bin/redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      Die("cannot start /usr/bin/redis-server");
    }
  }
  ~RedisServer() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
    fs::remove_all(dir_);
  }
  std::string socket() const { return dir_ + "/redis.sock"; }

  // Polls until the server accepts a store, with a deadline.
  std::unique_ptr<KvStore> Connect() const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (true) {
      auto store = OpenKvStore("redis+unix://" + socket() + "?pool_size=4");
      if (store) return std::move(*store);
      if (std::chrono::steady_clock::now() > deadline) Die(store.error().message);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

struct WarmStores {
  std::string rocksdb_dir;
  std::unique_ptr<KvStore> rocksdb;          // row cache big enough for every row
  std::unique_ptr<KvStore> rocksdb_no_rows;  // block cache only (row_cache_mb=0)
  std::unique_ptr<RedisServer> redis_server;
  std::unique_ptr<KvStore> redis;
  std::vector<std::string> keys;
};

// Touches every key once, so lookups measure the cache-resident path.
void Warm(KvStore& store, const std::vector<std::string>& keys) {
  KvValues values;
  std::vector<std::string_view> batch;
  for (size_t i = 0; i < keys.size(); i += 1000) {
    batch.assign(keys.begin() + i, keys.begin() + std::min(keys.size(), i + 1000));
    if (!store.MultiGet(batch, values) || !values.found(0)) Die("warm-up lookup failed");
  }
}

std::unique_ptr<KvStore> LoadRocksDb(const std::string& uri, size_t count) {
  auto store = OpenOrDie(uri);
  Load(*store, 0, count, KvWriteMode::kBulk);
  if (auto flushed = store->Flush(); !flushed) Die(flushed.error().message);
  return store;
}

WarmStores& Stores() {
  static WarmStores* stores = [] {
    auto* s = new WarmStores;
    size_t count = EntityCount();
    for (size_t i = 0; i < count; ++i) s->keys.push_back(EntityKey(i));
    std::string pattern = (fs::temp_directory_path() / "falaj_kv_bench_rocksdb_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) Die("mkdtemp failed");
    s->rocksdb_dir = pattern;
    s->rocksdb =
        LoadRocksDb("rocksdb://" + pattern + "/rows?block_cache_mb=512&row_cache_mb=1024", count);
    s->rocksdb_no_rows =
        LoadRocksDb("rocksdb://" + pattern + "/blocks?block_cache_mb=1024&row_cache_mb=0", count);
    s->redis_server = std::make_unique<RedisServer>();
    s->redis = s->redis_server->Connect();
    Load(*s->redis, 0, count, KvWriteMode::kBulk);
    Warm(*s->rocksdb, s->keys);
    Warm(*s->rocksdb_no_rows, s->keys);
    return s;
  }();
  return *stores;
}

void MultiGet(benchmark::State& state, KvStore& store) {
  const auto& keys = Stores().keys;
  const size_t batch_size = static_cast<size_t>(state.range(0));
  std::mt19937_64 random(state.thread_index() * 7919 + 1);
  std::uniform_int_distribution<size_t> pick(0, keys.size() - 1);
  std::vector<std::string_view> batch(batch_size);
  KvValues values;
  uint64_t calls = 0, misses = 0, allocations_before = 0;
  for (auto _ : state) {
    for (auto& key : batch) key = keys[pick(random)];
    if (calls == 1) allocations_before = allocations;  // the first call grows the buffers
    if (auto got = store.MultiGet(batch, values); !got) {
      state.SkipWithError(got.error().message.c_str());
      break;
    }
    for (size_t i = 0; i < batch_size; ++i) misses += !values.found(i);
    ++calls;
  }
  if (misses != 0) state.SkipWithError("a warm key was missing");
  state.SetItemsProcessed(static_cast<int64_t>(calls * batch_size));
  if (calls > 1) {
    state.counters["allocs_per_call"] =
        static_cast<double>(allocations - allocations_before) / static_cast<double>(calls - 1);
  }
}

void BM_RocksDbMultiGet(benchmark::State& state) { MultiGet(state, *Stores().rocksdb); }
void BM_RocksDbNoRowCacheMultiGet(benchmark::State& state) {
  MultiGet(state, *Stores().rocksdb_no_rows);
}
void BM_RedisMultiGet(benchmark::State& state) { MultiGet(state, *Stores().redis); }

// Loads 1M fresh rows per iteration; kBulk includes the Flush() that makes the load durable.
void BulkWrite(benchmark::State& state, bool redis) {
  const auto mode = static_cast<KvWriteMode>(state.range(0));
  constexpr size_t kRows = 1000000;
  size_t next = 100000000;  // beyond the warm keys
  for (auto _ : state) {
    KvStore& store = redis ? *Stores().redis : *Stores().rocksdb;
    Load(store, next, kRows, mode);
    if (mode == KvWriteMode::kBulk) {
      if (auto flushed = store.Flush(); !flushed) Die(flushed.error().message);
    }
    next += kRows;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * kRows));
  state.SetLabel(mode == KvWriteMode::kBulk       ? "bulk"
                 : mode == KvWriteMode::kBuffered ? "buffered"
                                                  : "sync");
}

void BM_RocksDbWrite10kBatches(benchmark::State& state) { BulkWrite(state, false); }
void BM_RedisWrite10kBatches(benchmark::State& state) { BulkWrite(state, true); }

BENCHMARK(BM_RocksDbMultiGet)->Arg(1)->Arg(64)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_RocksDbNoRowCacheMultiGet)->Arg(1)->Arg(64)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_RedisMultiGet)->Arg(1)->Arg(64)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_RocksDbWrite10kBatches)
    ->Arg(static_cast<int>(KvWriteMode::kBulk))
    ->Arg(static_cast<int>(KvWriteMode::kBuffered))
    ->Arg(static_cast<int>(KvWriteMode::kSync))
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_RedisWrite10kBatches)
    ->Arg(static_cast<int>(KvWriteMode::kBulk))
    ->Iterations(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace falaj::storage

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  falaj::storage::Stores();  // load outside any timed region
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  auto& stores = falaj::storage::Stores();
  stores.rocksdb.reset();
  stores.rocksdb_no_rows.reset();
  stores.redis.reset();
  stores.redis_server.reset();
  std::filesystem::remove_all(stores.rocksdb_dir);
  return 0;
}
