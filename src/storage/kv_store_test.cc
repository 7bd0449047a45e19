// KvStore tests: one typed suite run against every backend (RocksDB in a temp directory, a real
// redis-server started per test on a unix socket). Backend-specific tests for URIs, errors,
// authentication and reconnection are in kv_store_backends_test.cc.
#include "storage/kv_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "storage/kv_store_test_support.h"

namespace falaj::storage {
namespace {

namespace fs = std::filesystem;
using testing::MakeTempDir;
using testing::RedisServer;

class RocksDbBackend {
 public:
  static constexpr const char* kName = "RocksDb";
  void SetUp() {
    dir_ = MakeTempDir("falaj_kv_rocksdb");
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string Uri() const { return "rocksdb://" + (dir_ / "nested" / "db").string(); }

 private:
  fs::path dir_;
};

class RedisBackend {
 public:
  static constexpr const char* kName = "Redis";
  void SetUp() {
    server_ = std::make_unique<RedisServer>();
    ASSERT_TRUE(server_->Start());
  }
  void TearDown() { server_.reset(); }
  std::string Uri() const { return server_->unix_uri(); }

 private:
  std::unique_ptr<RedisServer> server_;
};

template <typename Backend>
class KvStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_.SetUp();
    if (HasFatalFailure()) return;
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    backend_.TearDown();
  }

  void Reopen() {
    store_.reset();
    auto opened = OpenKvStore(backend_.Uri());
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
  }

  void Put(const std::vector<std::pair<std::string, std::string>>& entries,
           KvWriteMode mode = KvWriteMode::kSync) {
    std::vector<KvEntry> puts;
    for (const auto& [key, value] : entries) puts.push_back(KvEntry{key, value});
    auto written = store_->Write(puts, mode);
    ASSERT_TRUE(written) << written.error().message;
  }

  std::optional<std::string> Get(std::string_view key) {
    KvValues values;
    auto status = store_->MultiGet(std::span(&key, 1), values);
    EXPECT_TRUE(status) << status.error().message;
    if (!status || values.size() != 1 || !values.found(0)) return std::nullopt;
    return std::string(values.value(0));
  }

  // Every key under `prefix` with its value. Redis may visit a key twice; the map absorbs that.
  std::map<std::string, std::string> Scan(std::string_view prefix) {
    std::map<std::string, std::string> seen;
    auto status = store_->ScanPrefix(prefix, [&](std::string_view key, std::string_view value) {
      seen[std::string(key)] = std::string(value);
      return true;
    });
    EXPECT_TRUE(status) << status.error().message;
    return seen;
  }

  Backend backend_;
  std::unique_ptr<KvStore> store_;
};

struct BackendNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

using Backends = ::testing::Types<RocksDbBackend, RedisBackend>;
TYPED_TEST_SUITE(KvStoreTest, Backends, BackendNames);

TYPED_TEST(KvStoreTest, RoundTripsOverwritesAndReportsMissingKeys) {
  this->Put({{"user/1", "alpha"}, {"user/2", "beta"}, {"user/empty", ""}});
  std::vector<std::string_view> keys = {"user/1", "user/missing", "user/2", "user/empty"};
  KvValues values;
  ASSERT_TRUE(this->store_->MultiGet(keys, values));
  ASSERT_EQ(values.size(), 4u);
  EXPECT_TRUE(values.found(0));
  EXPECT_EQ(values.value(0), "alpha");
  EXPECT_FALSE(values.found(1));
  EXPECT_EQ(values.value(1), "");
  EXPECT_EQ(values.value(2), "beta");
  EXPECT_TRUE(values.found(3)) << "an empty value is present, not missing";
  EXPECT_EQ(values.value(3), "");

  this->Put({{"user/1", "gamma"}});
  EXPECT_EQ(this->Get("user/1"), "gamma");
  this->Put({{"dup", "first"}, {"dup", "last"}});
  EXPECT_EQ(this->Get("dup"), "last");
  EXPECT_TRUE(this->store_->Write({}));
}

// From memory a store answers exactly what MultiGet() answers, or declines (Redis always does;
// RocksDB answers from its memtables and caches, and declines only for keys in files not cached).
TYPED_TEST(KvStoreTest, MultiGetFromMemoryAnswersLikeMultiGetOrDeclines) {
  this->Put({{"hot/1", "alpha"}, {"hot/2", "beta"}});
  for (std::vector<std::string_view> keys :
       {std::vector<std::string_view>{"hot/1"}, std::vector<std::string_view>{"hot/missing"},
        std::vector<std::string_view>{"hot/2", "hot/missing", "hot/1"}}) {
    KvValues expected, values;
    ASSERT_TRUE(this->store_->MultiGet(keys, expected));
    auto answered = this->store_->MultiGetFromMemory(keys, values);
    ASSERT_TRUE(answered) << answered.error().message;
    if (!*answered) continue;
    ASSERT_EQ(values.size(), expected.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      EXPECT_EQ(values.found(i), expected.found(i)) << keys[i];
      EXPECT_EQ(values.value(i), expected.value(i)) << keys[i];
    }
  }
}

TYPED_TEST(KvStoreTest, KeysAndValuesAreBinaryWithNulBytes) {
  std::string every_byte;
  for (int c = 0; c < 256; ++c) every_byte.push_back(static_cast<char>(c));
  const std::string nul_a("k\0a", 3), nul_b("k\0b", 3), value_a("v\0\0x", 4);
  this->Put({{nul_a, value_a}, {nul_b, every_byte}, {"k", "plain"}, {every_byte, nul_a}});
  EXPECT_EQ(this->Get(nul_a), value_a);
  EXPECT_EQ(this->Get(nul_b), every_byte);
  EXPECT_EQ(this->Get("k"), "plain");
  EXPECT_EQ(this->Get(every_byte), nul_a);
  EXPECT_EQ(this->Get(std::string("k\0", 2)), std::nullopt);
  auto scanned = this->Scan(std::string("k\0", 2));
  EXPECT_EQ(scanned, (std::map<std::string, std::string>{{nul_a, value_a}, {nul_b, every_byte}}));
}

TYPED_TEST(KvStoreTest, MultiGetReusesOutputAndAnswersDuplicatesInPlace) {
  this->Put({{"a", "1"}, {"b", "22"}, {"c", "333"}});
  KvValues values;
  std::vector<std::string_view> many = {"c", "a", "nope", "b", "a", "c"};
  ASSERT_TRUE(this->store_->MultiGet(many, values));
  ASSERT_EQ(values.size(), 6u);
  EXPECT_EQ(values.value(0), "333");
  EXPECT_EQ(values.value(4), "1");
  EXPECT_EQ(values.value(5), "333");
  std::vector<std::string_view> one = {"b"};
  ASSERT_TRUE(this->store_->MultiGet(one, values));
  ASSERT_EQ(values.size(), 1u);
  EXPECT_EQ(values.value(0), "22");
  ASSERT_TRUE(this->store_->MultiGet({}, values));
  EXPECT_EQ(values.size(), 0u);
}

TYPED_TEST(KvStoreTest, DeleteRemovesOnlyTheNamedKeys) {
  this->Put({{"x1", "1"}, {"x2", "2"}, {"x3", "3"}});
  std::vector<std::string_view> doomed = {"x1", "x3", "never-existed"};
  ASSERT_TRUE(this->store_->Delete(doomed));
  EXPECT_EQ(this->Get("x1"), std::nullopt);
  EXPECT_EQ(this->Get("x2"), "2");
  EXPECT_EQ(this->Get("x3"), std::nullopt);
  EXPECT_TRUE(this->store_->Delete({}));
}

TYPED_TEST(KvStoreTest, DeletePrefixLeavesNeighbours) {
  this->Put({{"", "empty key"},
             {"`", "before a"},
             {"a", "1"},
             {"a1", "2"},
             {"ab", "3"},
             {"abc", "4"},
             {"a\xff", "5"},
             {"b", "6"},
             {"\xff\xff", "7"},
             {"\xff\xff\x01", "8"},
             {"\xff\xfe", "9"}});
  auto deleted = this->store_->DeletePrefix("ab");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(*deleted, 2u);
  deleted = this->store_->DeletePrefix("a");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(*deleted, 3u);
  deleted = this->store_->DeletePrefix("\xff\xff");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(*deleted, 2u);
  deleted = this->store_->DeletePrefix("zzz");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted, 0u);
  EXPECT_EQ(this->Scan(""),
            (std::map<std::string, std::string>{
                {"", "empty key"}, {"`", "before a"}, {"b", "6"}, {"\xff\xfe", "9"}}));
  auto everything = this->store_->DeletePrefix("");
  ASSERT_FALSE(everything);
  EXPECT_EQ(everything.error().code, ErrorCode::kInvalidArgument);
}

TYPED_TEST(KvStoreTest, DeletePrefixTreatsGlobCharactersLiterally) {
  this->Put({{"a*", "1"},
             {"a*b", "2"},
             {"ab", "3"},
             {"a?", "4"},
             {"ax", "5"},
             {"a[b]", "6"},
             {"ab]", "7"},
             {"a\\", "8"},
             {"a\\b", "9"},
             {"[x", "10"},
             {"x*", "11"},
             {"a^", "12"}});
  for (auto [prefix, count] : std::vector<std::pair<std::string, uint64_t>>{
           {"a*", 2}, {"a?", 1}, {"a[b]", 1}, {"a\\", 2}, {"a[", 0}, {"a]", 0}}) {
    auto deleted = this->store_->DeletePrefix(prefix);
    ASSERT_TRUE(deleted) << deleted.error().message;
    EXPECT_EQ(*deleted, count) << "prefix " << prefix;
  }
  std::map<std::string, std::string> left = this->Scan("");
  std::vector<std::string> keys;
  for (const auto& [key, value] : left) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"[x", "a^", "ab", "ab]", "ax", "x*"}));
}

TYPED_TEST(KvStoreTest, ScanPrefixVisitsThePrefixOnlyAndStopsEarly) {
  std::vector<std::pair<std::string, std::string>> entries = {{"p", "no"}, {"q/1", "no"}};
  std::map<std::string, std::string> expected;
  for (int i = 0; i < 50; ++i) {
    entries.emplace_back("p/" + std::to_string(i), "v" + std::to_string(i));
    expected[entries.back().first] = entries.back().second;
  }
  this->Put(entries);
  EXPECT_EQ(this->Scan("p/"), expected);
  EXPECT_EQ(this->Scan("").size(), 52u);
  EXPECT_TRUE(this->Scan("nothing-here").empty());

  int visits = 0;
  ASSERT_TRUE(this->store_->ScanPrefix(
      "p/", [&](std::string_view, std::string_view) { return ++visits < 5; }));
  EXPECT_EQ(visits, 5);
}

TYPED_TEST(KvStoreTest, ScanPrefixVisitorMayUseTheStore) {
  this->Put({{"s/1", "one"}, {"s/2", "two"}});
  int checked = 0;
  ASSERT_TRUE(this->store_->ScanPrefix("s/", [&](std::string_view key, std::string_view value) {
    EXPECT_EQ(this->Get(key), std::string(value));
    ++checked;
    return true;
  }));
  EXPECT_EQ(checked, 2);
}

TYPED_TEST(KvStoreTest, BatchesAreAtomicForReaders) {
  constexpr int kKeys = 64;
  constexpr int kGenerations = 200;
  std::vector<std::string> key_storage;
  for (int i = 0; i < kKeys; ++i) key_storage.push_back("atomic/" + std::to_string(i));
  std::vector<std::string_view> keys(key_storage.begin(), key_storage.end());
  std::atomic<bool> done{false};
  std::atomic<int> torn{0}, reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      KvValues values;
      while (!done.load()) {
        ASSERT_TRUE(this->store_->MultiGet(keys, values));
        for (int i = 1; i < kKeys; ++i) {
          if (values.found(i) != values.found(0) || values.value(i) != values.value(0)) ++torn;
        }
        ++reads;
      }
    });
  }
  for (int generation = 0; generation < kGenerations; ++generation) {
    std::string value = "generation " + std::to_string(generation);
    std::vector<KvEntry> batch;
    for (auto key : keys) batch.push_back(KvEntry{key, value});
    ASSERT_TRUE(this->store_->Write(batch, KvWriteMode::kBuffered));
  }
  done = true;
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
}

TYPED_TEST(KvStoreTest, ConcurrentReadersAndWritersFromEightThreads) {
  constexpr int kWriters = 4, kReaders = 4, kRounds = 100, kKeysPerWriter = 50;
  auto key_of = [](int writer, int i) { return fmt::format("w{}/{:03}", writer, i); };
  std::atomic<int> writers_left{kWriters};
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int round = 0; round < kRounds; ++round) {
        std::vector<std::string> keys, values;
        std::vector<KvEntry> batch;
        for (int i = 0; i < kKeysPerWriter; ++i) {
          keys.push_back(key_of(w, i));
          values.push_back(keys.back() + "#" + std::to_string(round));
        }
        for (int i = 0; i < kKeysPerWriter; ++i) batch.push_back(KvEntry{keys[i], values[i]});
        EXPECT_TRUE(this->store_->Write(batch, KvWriteMode::kBuffered));
      }
      --writers_left;
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      KvValues values;
      std::vector<std::string> keys;
      for (int w = 0; w < kWriters; ++w) keys.push_back(key_of(w, (r * 7 + w) % kKeysPerWriter));
      std::vector<std::string_view> views(keys.begin(), keys.end());
      while (writers_left.load() > 0) {
        if (!this->store_->MultiGet(views, values)) ++bad;
        for (size_t i = 0; i < views.size(); ++i) {
          if (values.found(i) && !values.value(i).starts_with(keys[i] + "#")) ++bad;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(bad.load(), 0);
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kKeysPerWriter; i += 7) {
      EXPECT_EQ(this->Get(key_of(w, i)), key_of(w, i) + "#" + std::to_string(kRounds - 1));
    }
  }
}

TYPED_TEST(KvStoreTest, HandlesBatchesOfOneHundredThousandEntries) {
  constexpr int kCount = 100000;
  std::vector<std::string> keys, values;
  for (int i = 0; i < kCount; ++i) {
    keys.push_back(fmt::format("big/{:06}", i));
    values.push_back(std::string(100, static_cast<char>('a' + i % 26)) + keys.back());
  }
  std::vector<KvEntry> batch;
  for (int i = 0; i < kCount; ++i) batch.push_back(KvEntry{keys[i], values[i]});
  auto written = this->store_->Write(batch, KvWriteMode::kBulk);
  ASSERT_TRUE(written) << written.error().message;

  std::vector<std::string_view> views(keys.begin(), keys.end());
  KvValues got;
  ASSERT_TRUE(this->store_->MultiGet(views, got));
  ASSERT_EQ(got.size(), static_cast<size_t>(kCount));
  int mismatched = 0;
  for (int i = 0; i < kCount; ++i) mismatched += !got.found(i) || got.value(i) != values[i];
  EXPECT_EQ(mismatched, 0);

  size_t scanned = 0;
  ASSERT_TRUE(this->store_->ScanPrefix("big/", [&](std::string_view, std::string_view) {
    ++scanned;
    return true;
  }));
  EXPECT_GE(scanned, static_cast<size_t>(kCount));  // Redis SCAN may repeat a key

  auto deleted = this->store_->DeletePrefix("big/");
  ASSERT_TRUE(deleted) << deleted.error().message;
  EXPECT_EQ(*deleted, static_cast<uint64_t>(kCount));
  ASSERT_TRUE(this->store_->MultiGet(views, got));
  int found = 0;
  for (int i = 0; i < kCount; ++i) found += got.found(i);
  EXPECT_EQ(found, 0);
}

TYPED_TEST(KvStoreTest, DataSurvivesReopenInEveryWriteMode) {
  this->Put({{"sync", "1"}}, KvWriteMode::kSync);
  this->Put({{"buffered", "2"}}, KvWriteMode::kBuffered);
  this->Put({{"bulk", "3"}}, KvWriteMode::kBulk);
  ASSERT_TRUE(this->store_->Flush());
  this->Reopen();
  EXPECT_EQ(this->Get("sync"), "1");
  EXPECT_EQ(this->Get("buffered"), "2");
  EXPECT_EQ(this->Get("bulk"), "3");
}

// A bulk load of more than one Redis batch, produced into one reused buffer as materialisation
// does (the store must copy what it keeps), beside keys outside its range that it must not touch.
TYPED_TEST(KvStoreTest, BulkLoadSortedStoresEveryEntryOfAStreamedLoad) {
  this->Put({{"bulk0", "before"}, {"bulk2", "after"}});
  constexpr int kCount = static_cast<int>(KvStore::kBulkLoadBatch) * 2 + 7;
  auto value_of = [](int i) { return std::string("value\0", 6) + std::to_string(i); };
  std::string key, value;
  int next = 0;
  auto loaded = this->store_->BulkLoadSorted([&](KvEntry& entry) {
    if (next == kCount) return false;
    key = fmt::format("bulk1/{:06}", next);
    value = value_of(next++);
    entry = {key, value};
    return true;
  });
  ASSERT_TRUE(loaded) << loaded.error().message;

  std::vector<std::string> keys;
  for (int i = 0; i < kCount; ++i) keys.push_back(fmt::format("bulk1/{:06}", i));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  KvValues got;
  ASSERT_TRUE(this->store_->MultiGet(views, got));
  int mismatched = 0;
  for (int i = 0; i < kCount; ++i) {
    mismatched += !got.found(i) || got.value(i) != value_of(i);
  }
  EXPECT_EQ(mismatched, 0);
  EXPECT_EQ(this->Get("bulk0"), "before");
  EXPECT_EQ(this->Get("bulk2"), "after");
  EXPECT_EQ(this->Scan("bulk1/").size(), static_cast<size_t>(kCount));

  this->Reopen();
  EXPECT_EQ(this->Get(keys.back()), value_of(kCount - 1)) << "durable on return";
}

TYPED_TEST(KvStoreTest, BulkLoadSortedOverwritesStoredKeysAndAcceptsNothing) {
  this->Put({{"k/1", "old"}, {"k/3", "kept"}}, KvWriteMode::kBulk);  // still in a memtable
  const std::vector<KvEntry> puts = {{"k/1", "new"}, {"k/2", "two"}};
  ASSERT_TRUE(this->store_->BulkLoadSorted(puts));
  EXPECT_EQ(this->Get("k/1"), "new");
  EXPECT_EQ(this->Get("k/2"), "two");
  EXPECT_EQ(this->Get("k/3"), "kept");
  EXPECT_TRUE(this->store_->BulkLoadSorted(std::span<const KvEntry>()));
}

TYPED_TEST(KvStoreTest, BulkLoadSortedRejectsUnsortedOrRepeatedKeysWritingNothing) {
  for (const std::vector<KvEntry>& puts :
       {std::vector<KvEntry>{{"u/a", "1"}, {"u/c", "2"}, {"u/b", "3"}},
        std::vector<KvEntry>{{"u/a", "1"}, {"u/b", "2"}, {"u/b", "3"}}}) {
    auto loaded = this->store_->BulkLoadSorted(puts);
    ASSERT_FALSE(loaded);
    EXPECT_EQ(loaded.error().code, ErrorCode::kInvalidArgument) << loaded.error().message;
    EXPECT_TRUE(this->Scan("u/").empty());
  }
}

}  // namespace
}  // namespace falaj::storage
