// KvStore tests: one typed suite run against every backend (RocksDB in a temp directory, a real
// redis-server started per test on a unix socket), then backend-specific tests for URIs, errors,
// authentication and reconnection.
#include "storage/kv_store.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "storage/redis_kv_store.h"

extern char** environ;

namespace falaj::storage {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

fs::path MakeTempDir(const std::string& tag) {
  std::string pattern = (fs::temp_directory_path() / (tag + "_XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) return {};
  return pattern;
}

// A real redis-server in its own temp directory, listening on a unix socket (and on a TCP port
// when given one). Started and stopped explicitly so a test can restart it in place.
class RedisServer {
 public:
  explicit RedisServer(std::vector<std::string> extra_args = {}, int tcp_port = 0)
      : dir_(MakeTempDir("falaj_kv_redis")), extra_args_(std::move(extra_args)), port_(tcp_port) {}
  ~RedisServer() {
    Stop();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string socket_path() const { return (dir_ / "redis.sock").string(); }
  std::string unix_uri() const { return "redis+unix://" + socket_path(); }

  // Starts the server and polls it with PING until it answers (any reply, NOAUTH included)
  // or the deadline passes. False, with the server's log on stderr, when it does not come up.
  bool Start() {
    std::vector<std::string> args = {"redis-server", "--port",    std::to_string(port_),
                                     "--bind",       "127.0.0.1", "--unixsocket",
                                     socket_path(),  "--save",    "",
                                     "--appendonly", "no",        "--dir",
                                     dir_.string(),  "--logfile", (dir_ / "redis.log").string()};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, "/usr/bin/redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return false;
    }
    auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;  // exited: bad arguments or a taken port
      }
      if (Pings()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::ifstream log(dir_ / "redis.log");
    std::stringstream text;
    text << log.rdbuf();
    fprintf(stderr, "redis-server did not come up; its log:\n%s\n", text.str().c_str());
    Stop();
    return false;
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (waitpid(pid_, nullptr, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

 private:
  bool Pings() const {
    redisContext* context = redisConnectUnixWithTimeout(socket_path().c_str(), {0, 200000});
    bool ok = false;
    if (context != nullptr && context->err == 0) {
      auto* reply = static_cast<redisReply*>(redisCommand(context, "PING"));
      ok = reply != nullptr;
      if (reply != nullptr) freeReplyObject(reply);
    }
    if (context != nullptr) redisFree(context);
    return ok;
  }

  fs::path dir_;
  std::vector<std::string> extra_args_;
  int port_ = 0;
  pid_t pid_ = -1;
};

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

TEST(KvStoreUriTest, MalformedAndUnknownUrisAreInvalidArguments) {
  for (const char* uri :
       {"", "no-scheme", "rocksdb://", "memcached://host", "rocksdb:///tmp/x?bogus=1",
        "rocksdb:///tmp/x?block_cache_mb=0", "redis://", "redis://host:port", "redis://host:0",
        "redis://host:70000", "redis://:6379", "redis://host/db", "redis://host?pool_size=0",
        "redis://host?colour=blue", "redis://host/1?db=2", "redis://[::1:6379",
        "redis+unix://relative.sock", "redis+unix:///s.sock?db=x", "redis://:bad%zzpass@host"}) {
    auto opened = OpenKvStore(uri);
    ASSERT_FALSE(opened) << uri;
    EXPECT_EQ(opened.error().code, ErrorCode::kInvalidArgument)
        << uri << ": " << opened.error().message;
  }
}

TEST(KvStoreUriTest, ErrorsNameTheUriWithThePasswordRedacted) {
  for (const char* uri : {"redis://:hunter2@host:99999", "redis://user:hunter2@127.0.0.1:1/0",
                          "redis+unix://:hunter2@/nonexistent/redis.sock", "hunter2@nowhere"}) {
    auto opened = OpenKvStore(uri);
    ASSERT_FALSE(opened) << uri;
    EXPECT_EQ(opened.error().message.find("hunter2"), std::string::npos) << opened.error().message;
    EXPECT_NE(opened.error().message.find("***"), std::string::npos) << opened.error().message;
  }
  EXPECT_EQ(RedactUriPassword("redis://u:p%40ss@h:1/2"), "redis://u:***@h:1/2");
  EXPECT_EQ(RedactUriPassword("redis://secret@h"), "redis://***@h");
  EXPECT_EQ(RedactUriPassword("redis://h:1/0"), "redis://h:1/0");
  EXPECT_EQ(RedactUriPassword("redis+unix:///tmp/a@b/s.sock"), "redis+unix:///tmp/a@b/s.sock");
  EXPECT_EQ(RedactUriPassword("redis+unix://:pw@/tmp/s.sock?db=1"),
            "redis+unix://:***@/tmp/s.sock?db=1");
}

TEST(RocksDbKvStoreTest, SecondOpenOfADirectoryInUseIsUnavailable) {
  fs::path dir = MakeTempDir("falaj_kv_locked");
  std::string uri = "rocksdb://" + dir.string() + "?block_cache_mb=8";
  auto first = OpenKvStore(uri);
  ASSERT_TRUE(first) << first.error().message;
  auto second = OpenKvStore(uri);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(second.error().message.find(uri), std::string::npos) << second.error().message;
  EXPECT_NE(second.error().message.find("in use"), std::string::npos) << second.error().message;
  first->reset();
  EXPECT_TRUE(OpenKvStore(uri)) << "the lock goes with the store";
  fs::remove_all(dir);
}

TEST(RocksDbKvStoreTest, DirectoryLockedByAnotherProcessIsUnavailable) {
  fs::path dir = MakeTempDir("falaj_kv_locked_elsewhere");
  // RocksDB locks <dir>/LOCK with fcntl(F_SETLK); Python's lockf takes the same kind of lock.
  std::string command = "exec python3 -c 'import fcntl, os, time; f = open(\"" +
                        (dir / "LOCK").string() +
                        "\", \"a\"); fcntl.lockf(f, fcntl.LOCK_EX); print(os.getpid(), "
                        "flush=True); time.sleep(600)'";
  FILE* holder = popen(command.c_str(), "r");
  ASSERT_NE(holder, nullptr);
  int pid = 0;
  ASSERT_EQ(fscanf(holder, "%d", &pid), 1);
  auto opened = OpenKvStore("rocksdb://" + dir.string());
  kill(pid, SIGTERM);
  pclose(holder);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(opened.error().message.find("in use by another process"), std::string::npos)
      << opened.error().message;
  fs::remove_all(dir);
}

TEST(RedisKvStoreTest, UnreachableServerIsUnavailable) {
  for (std::string uri : {"redis+unix:///nonexistent/falaj/redis.sock", "redis://127.0.0.1:1/0"}) {
    auto opened = OpenKvStore(uri + (uri.find('?') == std::string::npos ? "?" : "&") +
                              "connect_timeout_ms=500");
    ASSERT_FALSE(opened) << uri;
    EXPECT_EQ(opened.error().code, ErrorCode::kUnavailable) << opened.error().message;
    EXPECT_NE(opened.error().message.find(uri), std::string::npos) << opened.error().message;
  }
}

TEST(RedisKvStoreTest, AuthenticatesAndSelectsTheDatabase) {
  RedisServer server({"--requirepass", "s3cret"});
  ASSERT_TRUE(server.Start());
  const std::string path = server.socket_path();
  auto anonymous = OpenKvStore("redis+unix://" + path);
  ASSERT_FALSE(anonymous);
  EXPECT_EQ(anonymous.error().code, ErrorCode::kUnauthenticated) << anonymous.error().message;
  auto wrong = OpenKvStore("redis+unix://:wrong-password@" + path);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthenticated) << wrong.error().message;
  EXPECT_EQ(wrong.error().message.find("wrong-password"), std::string::npos);
  auto bad_db = OpenKvStore("redis+unix://:s3cret@" + path + "?db=100000");
  ASSERT_FALSE(bad_db);
  EXPECT_EQ(bad_db.error().code, ErrorCode::kInvalidArgument) << bad_db.error().message;

  auto db3 = OpenKvStore("redis+unix://default:s3cret@" + path + "?db=3&pool_size=2");
  ASSERT_TRUE(db3) << db3.error().message;
  auto db0 = OpenKvStore("redis+unix://:s3cret@" + path);
  ASSERT_TRUE(db0) << db0.error().message;
  KvEntry entry{"k", "in db 3"};
  ASSERT_TRUE((*db3)->Write(std::span(&entry, 1)));
  std::string_view key = "k";
  KvValues values;
  ASSERT_TRUE((*db3)->MultiGet(std::span(&key, 1), values));
  EXPECT_EQ(values.value(0), "in db 3");
  ASSERT_TRUE((*db0)->MultiGet(std::span(&key, 1), values));
  EXPECT_FALSE(values.found(0));
}

TEST(RedisKvStoreTest, AnErrorReplyIsAnErrorNamingTheCommand) {
  RedisServer server({"--maxmemory", "4mb", "--maxmemory-policy", "noeviction"});
  ASSERT_TRUE(server.Start());
  auto store = OpenKvStore(server.unix_uri());
  ASSERT_TRUE(store) << store.error().message;
  const std::string big(1 << 20, 'x');
  Status written = Ok();
  // Redis admits the write that crosses the limit and refuses the next.
  for (int i = 0; i < 16 && written; ++i) {
    std::string key = "big/" + std::to_string(i);
    KvEntry entry{key, big};
    written = (*store)->Write(std::span(&entry, 1));
  }
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().code, ErrorCode::kResourceExhausted) << written.error().message;
  EXPECT_NE(written.error().message.find("MSET: OOM"), std::string::npos)
      << written.error().message;
}

int FreeTcpPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  return port;
}

TEST(RedisKvStoreTest, WorksOverTcpWithAPercentEncodedPassword) {
  std::unique_ptr<RedisServer> server;
  int port = 0;
  // The port is free when chosen but may be taken before redis binds it: try a few.
  for (int attempt = 0; attempt < 5 && !server; ++attempt) {
    port = FreeTcpPort();
    server =
        std::make_unique<RedisServer>(std::vector<std::string>{"--requirepass", "p@ss/w:rd"}, port);
    if (!server->Start()) server.reset();
  }
  ASSERT_TRUE(server);
  auto store = OpenKvStore(fmt::format("redis://:p%40ss%2Fw%3Ard@127.0.0.1:{}/2", port));
  ASSERT_TRUE(store) << store.error().message;
  KvEntry entry{"tcp", "ok"};
  ASSERT_TRUE((*store)->Write(std::span(&entry, 1)));
  std::string_view key = "tcp";
  KvValues values;
  ASSERT_TRUE((*store)->MultiGet(std::span(&key, 1), values));
  EXPECT_EQ(values.value(0), "ok");
}

TEST(RedisKvStoreTest, ReconnectsAfterTheServerRestarts) {
  RedisServer server;
  ASSERT_TRUE(server.Start());
  auto store = OpenKvStore(server.unix_uri() + "?pool_size=2&connect_timeout_ms=500");
  ASSERT_TRUE(store) << store.error().message;
  std::string_view key = "k";
  KvValues values;
  ASSERT_TRUE((*store)->MultiGet(std::span(&key, 1), values));

  server.Stop();
  auto down = (*store)->MultiGet(std::span(&key, 1), values);
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable) << down.error().message;

  ASSERT_TRUE(server.Start());
  KvEntry entry{"k", "after restart"};
  auto written = (*store)->Write(std::span(&entry, 1));
  ASSERT_TRUE(written) << written.error().message;
  ASSERT_TRUE((*store)->MultiGet(std::span(&key, 1), values));
  EXPECT_EQ(values.value(0), "after restart");
}

}  // namespace
}  // namespace falaj::storage
