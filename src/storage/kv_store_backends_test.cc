// Backend-specific KvStore tests: URI parsing and password redaction, a RocksDB directory that
// is locked, and Redis errors, authentication, TCP and reconnection against a real redis-server.
// The suite every backend passes is in kv_store_test.cc.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "storage/kv_store.h"
#include "storage/kv_store_test_support.h"
#include "storage/redis_kv_store.h"

namespace falaj::storage {
namespace {

namespace fs = std::filesystem;
using testing::MakeTempDir;
using testing::RedisServer;

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
