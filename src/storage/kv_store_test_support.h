// Test support for the KvStore tests: temporary directories, and a real redis-server started as
// a child process on a unix socket (and a TCP port when asked). Test-only. RedisServer is not
// thread-safe: one test drives it.
#pragma once

#include <hiredis/hiredis.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace falaj::storage::testing {

// A fresh directory under the system temp directory, named after `tag`; empty if none could be
// made.
inline std::filesystem::path MakeTempDir(const std::string& tag) {
  std::string pattern = (std::filesystem::temp_directory_path() / (tag + "_XXXXXX")).string();
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
    std::filesystem::remove_all(dir_, ignored);
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
  using Clock = std::chrono::steady_clock;

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

  std::filesystem::path dir_;
  std::vector<std::string> extra_args_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace falaj::storage::testing
