// Test support for the MQTT connector: a real Mosquitto broker started on an ephemeral loopback
// port in a temporary directory, a TCP proxy in front of it that a test can cut and restore to
// drop a subscriber's connection deterministically, loopback socket helpers, and a bounded wait
// on a condition. Test-only; each object is used from the test's thread (the proxy runs its own).
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace falaj::data::mqtt_test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr auto kWait = 30s;

template <typename Predicate>
bool Eventually(Predicate predicate) {
  auto deadline = std::chrono::steady_clock::now() + kWait;
  while (!predicate()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);  // polling a condition, bounded by the deadline
  }
  return true;
}

inline sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

// A listening socket on an ephemeral loopback port (port 0: the kernel picks a free one).
inline int Listen(int& port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = Loopback(0);
  socklen_t length = sizeof(address);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(fd, 16) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  port = ntohs(address.sin_port);
  return fd;
}

// A port that was free a moment ago; the caller retries if someone else takes it first.
inline int FreePort() {
  int port = -1;
  close(Listen(port));
  return port;
}

inline int ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = Loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string Uri(int port) { return "tcp://127.0.0.1:" + std::to_string(port); }

inline fs::path MakeTempDir() {
  std::string pattern = (fs::temp_directory_path() / "falaj-mqtt-XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

// A Mosquitto process on 127.0.0.1; `Start` picks a free port and retries if it was taken.
class Broker {
 public:
  Broker(fs::path dir, bool persistent, bool anonymous = true)
      : dir_(std::move(dir)), persistent_(persistent), anonymous_(anonymous) {}
  ~Broker() { Stop(); }

  void Start() {
    for (int attempt = 0; attempt < 5 && pid_ < 0; ++attempt) {
      port_ = FreePort();
      WriteConfig();
      std::string log = (dir_ / "mosquitto.log").string();
      std::string config = (dir_ / "mosquitto.conf").string();
      posix_spawn_file_actions_t actions;
      posix_spawn_file_actions_init(&actions);
      posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                       0644);
      posix_spawn_file_actions_adddup2(&actions, 1, 2);
      const char* argv[] = {"/usr/sbin/mosquitto", "-c", config.c_str(), nullptr};
      pid_t pid = -1;
      int rc = posix_spawn(&pid, argv[0], &actions, nullptr, const_cast<char**>(argv), environ);
      posix_spawn_file_actions_destroy(&actions);
      ASSERT_EQ(rc, 0) << "cannot run /usr/sbin/mosquitto";
      // Ready once it accepts connections; if it exits instead, the port was taken: retry.
      bool ready = Eventually([&] {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) return true;
        int fd = ConnectTo(port_);
        if (fd >= 0) close(fd);
        return fd >= 0;
      });
      int status = 0;
      if (ready && waitpid(pid, &status, WNOHANG) == 0) pid_ = pid;
    }
    ASSERT_GT(pid_, 0) << "mosquitto did not start; see " << (dir_ / "mosquitto.log");
  }

  // SIGTERM: Mosquitto saves its persistence database on the way out.
  void Stop() {
    if (pid_ < 0) return;
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  std::string uri() const { return Uri(port_); }

 private:
  void WriteConfig() {
    // As root, Mosquitto would switch to the 'mosquitto' user, which cannot write here.
    std::ofstream(dir_ / "mosquitto.conf") << fmt::format(
        "listener {} 127.0.0.1\nallow_anonymous {}\npersistence {}\npersistence_location {}/\n"
        "user {}\n",
        port_, anonymous_, persistent_, dir_.string(), getpwuid(geteuid())->pw_name);
  }

  fs::path dir_;
  bool persistent_ = false;
  bool anonymous_ = true;
  int port_ = -1;
  pid_t pid_ = -1;
};

// Forwards 127.0.0.1:port() to the broker; can refuse new connections and cut open ones.
class TcpProxy {
 public:
  explicit TcpProxy(int upstream) : upstream_(upstream) {
    listen_fd_ = Listen(port_);
    if (pipe(wake_) != 0) throw std::runtime_error("pipe failed");
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~TcpProxy() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    (void)!write(wake_[1], "x", 1);
    acceptor_.join();
    CutAll();
    for (auto& pump : pumps_) pump.join();
    close(listen_fd_);
    close(wake_[0]);
    close(wake_[1]);
  }

  int port() const { return port_; }
  std::string uri() const { return Uri(port_); }
  // New connections go to `upstream`, or are closed at once when it is nullopt.
  void Route(std::optional<int> upstream) {
    std::lock_guard lock(mutex_);
    upstream_ = upstream;
  }
  void CutAll() {
    std::lock_guard lock(mutex_);
    for (int fd : open_) shutdown(fd, SHUT_RDWR);
  }

 private:
  void AcceptLoop() {
    while (true) {
      pollfd fds[] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      poll(fds, 2, -1);
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      if (!(fds[0].revents & POLLIN)) continue;
      int client = accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      int server = upstream_ ? ConnectTo(*upstream_) : -1;
      if (server < 0) {
        close(client);
        continue;
      }
      open_.insert(client);
      open_.insert(server);
      pumps_.emplace_back([this, client, server] { Pump(client, server); });
    }
  }

  void Pump(int a, int b) {
    char buffer[16384];
    while (true) {
      pollfd fds[] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0) break;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (!fds[i].revents) continue;
        ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
        int to = fds[1 - i].fd;
        done = n <= 0 || send(to, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n;
      }
      if (done) break;
    }
    std::lock_guard lock(mutex_);
    open_.erase(a);
    open_.erase(b);
    close(a);
    close(b);
  }

  int listen_fd_ = -1;
  int port_ = -1;
  int wake_[2] = {-1, -1};
  std::thread acceptor_;
  std::mutex mutex_;
  std::optional<int> upstream_;     // guarded by mutex_
  bool stopping_ = false;           // guarded by mutex_
  std::set<int> open_;              // guarded by mutex_
  std::vector<std::thread> pumps_;  // written by the acceptor only, joined after it
};

}  // namespace falaj::data::mqtt_test
