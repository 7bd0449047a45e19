#include "storage/redis_kv_store.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <initializer_list>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace falaj::storage {
namespace {

constexpr int kDefaultPort = 6379;
constexpr int64_t kDefaultPoolSize = 8;
constexpr int64_t kMaxPoolSize = 256;
constexpr int64_t kDefaultConnectTimeoutMs = 2000;
constexpr int64_t kDefaultTimeoutMs = 5000;
constexpr int64_t kMaxTimeoutMs = 600000;
constexpr std::string_view kScanCount = "1000";
// A connection keeps argument scratch for up to this many arguments between calls.
constexpr size_t kMaxRetainedArgs = 8192;

struct RedisTarget {
  bool unix_socket = false;
  std::string host;
  int64_t port = kDefaultPort;
  std::string socket_path;
  std::string user;
  std::string password;
  bool has_password = false;
  int64_t db = 0;
  int64_t pool_size = kDefaultPoolSize;
  int64_t connect_timeout_ms = kDefaultConnectTimeoutMs;
  int64_t timeout_ms = kDefaultTimeoutMs;
  std::string redacted;
};

bool IsUnixScheme(std::string_view scheme) {
  return scheme.size() == 10 &&
         std::equal(scheme.begin(), scheme.end(), "redis+unix", [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// Where the user information ends (the '@'), or npos. Over-redacting is the safe failure, so for
// TCP URIs the last '@' counts: paths and options never contain one. A socket path may.
size_t UserinfoEnd(std::string_view scheme, std::string_view rest) {
  if (IsUnixScheme(scheme)) return rest.starts_with('/') ? std::string_view::npos : rest.find("@/");
  return rest.rfind('@');
}

Result<int64_t> ParseInt(std::string_view text, int64_t min, int64_t max, std::string_view what,
                         const std::string& redacted) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
      value > max) {
    return MakeError(ErrorCode::kInvalidArgument, "redis URI '{}': {} must be an integer in {}..{}",
                     redacted, what, min, max);
  }
  return value;
}

Result<std::string> PercentDecode(std::string_view text, const std::string& redacted) {
  std::string decoded;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded.push_back(text[i]);
      continue;
    }
    unsigned value = 0;
    auto [end, ec] =
        std::from_chars(text.data() + i + 1, text.data() + std::min(i + 3, text.size()), value, 16);
    if (i + 2 >= text.size() || ec != std::errc() || end != text.data() + i + 3) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "redis URI '{}': bad percent-encoding in the user information", redacted);
    }
    decoded.push_back(static_cast<char>(value));
    i += 2;
  }
  return decoded;
}

Status ParseQuery(std::string_view query, RedisTarget& target, bool& db_in_query) {
  struct Option {
    std::string_view name;
    int64_t RedisTarget::*field;
    int64_t min, max;
  };
  static constexpr Option kOptions[] = {
      {"db", &RedisTarget::db, 0, std::numeric_limits<int>::max()},
      {"pool_size", &RedisTarget::pool_size, 1, kMaxPoolSize},
      {"connect_timeout_ms", &RedisTarget::connect_timeout_ms, 1, kMaxTimeoutMs},
      {"timeout_ms", &RedisTarget::timeout_ms, 1, kMaxTimeoutMs}};
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto equals = param.find('=');
    std::string_view name = param.substr(0, equals);
    std::string_view value = equals == std::string_view::npos ? "" : param.substr(equals + 1);
    auto* option = std::find_if(std::begin(kOptions), std::end(kOptions),
                                [&](const Option& o) { return o.name == name; });
    if (option == std::end(kOptions)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "redis URI '{}': unknown option '{}'; known: db, pool_size, "
                       "connect_timeout_ms, timeout_ms",
                       target.redacted, name);
    }
    db_in_query |= option->field == &RedisTarget::db;
    FALAJ_ASSIGN_OR_RETURN(target.*option->field,
                           ParseInt(value, option->min, option->max, name, target.redacted));
  }
  return Ok();
}

// host[:port] or [ipv6][:port].
Status ParseHostPort(std::string_view authority, RedisTarget& target) {
  const bool bracketed = authority.starts_with('[');
  size_t host_end = authority.find(bracketed ? ']' : ':');
  target.host = authority.substr(bracketed ? 1 : 0, host_end - (bracketed ? 1 : 0));
  std::string_view after =
      host_end == std::string_view::npos ? "" : authority.substr(host_end + (bracketed ? 1 : 0));
  if (target.host.empty() || (bracketed && host_end == std::string_view::npos) ||
      (!after.empty() && !after.starts_with(':'))) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "redis URI '{}' has a malformed host; expected host[:port] or [ipv6][:port]",
                     target.redacted);
  }
  if (after.empty()) return Ok();
  FALAJ_ASSIGN_OR_RETURN(target.port, ParseInt(after.substr(1), 1, 65535, "port", target.redacted));
  return Ok();
}

Result<RedisTarget> ParseRedisUri(std::string_view uri) {
  RedisTarget target;
  target.redacted = RedactUriPassword(uri);
  auto separator = uri.find("://");
  if (separator == std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "redis URI '{}' has no scheme", target.redacted);
  }
  std::string_view scheme = uri.substr(0, separator);
  std::string_view rest = uri.substr(separator + 3);
  target.unix_socket = IsUnixScheme(scheme);

  if (auto at = UserinfoEnd(scheme, rest); at != std::string_view::npos) {
    std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    // As redis-cli reads it: "user:password", ":password", or a bare "password".
    auto colon = userinfo.find(':');
    if (colon != std::string_view::npos) {
      FALAJ_ASSIGN_OR_RETURN(target.user,
                             PercentDecode(userinfo.substr(0, colon), target.redacted));
      userinfo = userinfo.substr(colon + 1);
    }
    FALAJ_ASSIGN_OR_RETURN(target.password, PercentDecode(userinfo, target.redacted));
    target.has_password = true;
  }
  std::string_view query;
  if (auto mark = rest.find('?'); mark != std::string_view::npos) {
    query = rest.substr(mark + 1);
    rest = rest.substr(0, mark);
  }
  bool db_in_query = false;
  FALAJ_RETURN_IF_ERROR(ParseQuery(query, target, db_in_query));

  if (target.unix_socket) {
    if (!rest.starts_with('/') || rest.size() < 2) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "redis URI '{}' names no absolute socket path; expected "
                       "'redis+unix:///path/to/redis.sock[?db=N]'",
                       target.redacted);
    }
    target.socket_path = rest;
    return target;
  }
  auto slash = rest.find('/');
  FALAJ_RETURN_IF_ERROR(ParseHostPort(rest.substr(0, slash), target));
  std::string_view db = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
  if (!db.empty()) {
    if (db_in_query) {
      return MakeError(ErrorCode::kInvalidArgument, "redis URI '{}' gives the database twice",
                       target.redacted);
    }
    FALAJ_ASSIGN_OR_RETURN(target.db,
                           ParseInt(db, 0, std::numeric_limits<int>::max(), "db", target.redacted));
  }
  return target;
}

timeval ToTimeval(int64_t millis) {
  return timeval{static_cast<time_t>(millis / 1000),
                 static_cast<suseconds_t>(millis % 1000 * 1000)};
}

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// The error code for a Redis error reply, by its leading word.
ErrorCode ReplyErrorCode(std::string_view message, std::string_view command) {
  auto starts = [&](std::initializer_list<std::string_view> words) {
    return std::any_of(words.begin(), words.end(), [&](auto w) { return message.starts_with(w); });
  };
  if (command == "AUTH" || starts({"NOAUTH", "WRONGPASS"})) return ErrorCode::kUnauthenticated;
  if (starts({"NOPERM"})) return ErrorCode::kPermissionDenied;
  if (starts({"OOM"})) return ErrorCode::kResourceExhausted;
  if (starts({"LOADING", "BUSY", "READONLY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN"})) {
    return ErrorCode::kUnavailable;
  }
  if (starts({"MOVED", "ASK"})) return ErrorCode::kFailedPrecondition;  // Cluster: unsupported
  if (command == "SELECT") return ErrorCode::kInvalidArgument;
  return ErrorCode::kInternal;
}

// One hiredis connection and the argument arrays reused to build its commands. Used by the one
// thread that holds its pool slot.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() { Disconnect(); }

  // Whether the next command needs a new connection: none yet, a broken one, or one the server
  // closed while it sat idle in the pool (readable with no command outstanding means EOF).
  bool NeedsConnect() const {
    if (context_ == nullptr || context_->err != 0) return true;
    pollfd fd{context_->fd, POLLIN, 0};
    return ::poll(&fd, 1, 0) != 0;
  }

  Status Connect(const RedisTarget& target) {
    Disconnect();
    timeval connect_timeout = ToTimeval(target.connect_timeout_ms);
    context_ = target.unix_socket
                   ? redisConnectUnixWithTimeout(target.socket_path.c_str(), connect_timeout)
                   : redisConnectWithTimeout(target.host.c_str(), static_cast<int>(target.port),
                                             connect_timeout);
    if (context_ == nullptr || context_->err != 0) {
      auto error = MakeError(ErrorCode::kUnavailable, "redis '{}': cannot connect: {}",
                             target.redacted, context_ ? context_->errstr : "out of memory");
      Disconnect();
      return error;
    }
    Status setup = Setup(target);
    if (!setup) Disconnect();
    return setup;
  }

  void Begin(std::string_view command) {
    argv_.clear();
    lengths_.clear();
    Add(command);
  }
  void Add(std::string_view argument) {
    argv_.push_back(argument.data());
    lengths_.push_back(argument.size());
  }
  // Adds each string of an array reply, which must outlive Execute().
  void AddStrings(const redisReply& array) {
    for (size_t i = 0; i < array.elements; ++i) Add({array.element[i]->str, array.element[i]->len});
  }

  // Sends the command built by Begin()/Add() and reads its reply. An error reply is an error; so
  // is a broken connection, which is then reconnected on its next use.
  Result<ReplyPtr> Execute(const RedisTarget& target) {
    std::string_view command(argv_[0], lengths_[0]);
    errno = 0;
    auto* raw = static_cast<redisReply*>(
        redisCommandArgv(context_, static_cast<int>(argv_.size()), argv_.data(), lengths_.data()));
    int saved_errno = errno;
    TrimScratch();
    if (raw == nullptr) {
      if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK) {
        return MakeError(ErrorCode::kDeadlineExceeded, "redis '{}': {}: no reply within {} ms",
                         target.redacted, command, target.timeout_ms);
      }
      return MakeError(ErrorCode::kUnavailable, "redis '{}': {}: connection failed: {}",
                       target.redacted, command, context_->errstr);
    }
    ReplyPtr reply(raw);
    if (reply->type == REDIS_REPLY_ERROR) {
      std::string_view message(reply->str, reply->len);
      return MakeError(ReplyErrorCode(message, command), "redis '{}': {}: {}", target.redacted,
                       command, message);
    }
    return reply;
  }

 private:
  Status Setup(const RedisTarget& target) {
    if (redisSetTimeout(context_, ToTimeval(target.timeout_ms)) != REDIS_OK) {
      return MakeError(ErrorCode::kUnavailable, "redis '{}': cannot set timeouts: {}",
                       target.redacted, context_->errstr);
    }
    // Pooled connections sit idle: keep-alive notices a peer that vanished without a FIN.
    if (!target.unix_socket) redisEnableKeepAlive(context_);
    if (target.has_password) {
      Begin("AUTH");
      if (!target.user.empty()) Add(target.user);
      Add(target.password);
      FALAJ_RETURN_IF_ERROR(Execute(target));
    }
    if (target.db != 0) {
      std::string db = std::to_string(target.db);
      Begin("SELECT");
      Add(db);
      FALAJ_RETURN_IF_ERROR(Execute(target));
    }
    return Ok();
  }

  void TrimScratch() {
    if (argv_.capacity() <= kMaxRetainedArgs) return;
    argv_ = {};
    lengths_ = {};
  }

  void Disconnect() {
    if (context_ != nullptr) redisFree(context_);
    context_ = nullptr;
  }

  redisContext* context_ = nullptr;
  std::vector<const char*> argv_;
  std::vector<size_t> lengths_;
};

// A bounded set of connections. Claiming one is a compare-and-swap on a per-slot flag, starting
// at a per-thread slot so threads rarely collide; a mutex and condition variable are touched
// only when every slot is busy.
class ConnectionPool {
 public:
  struct Slot {
    std::atomic<bool> busy{false};
    Connection connection;  // used only by the thread that set `busy`
  };

  // Returns its slot to the pool when destroyed.
  class Lease {
   public:
    Lease(ConnectionPool* pool, Slot* slot) : pool_(pool), slot_(slot) {}
    Lease(Lease&& other) noexcept
        : pool_(other.pool_), slot_(std::exchange(other.slot_, nullptr)) {}
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (slot_ != nullptr) pool_->Release(*slot_);
    }
    Connection& operator*() const { return slot_->connection; }
    Connection* operator->() const { return &slot_->connection; }

   private:
    ConnectionPool* pool_;
    Slot* slot_;
  };

  explicit ConnectionPool(const RedisTarget& target)
      : target_(target),
        size_(static_cast<size_t>(target.pool_size)),
        slots_(std::make_unique<Slot[]>(size_)) {}

  // A connected connection, or UNAVAILABLE when (re)connecting fails, or RESOURCE_EXHAUSTED when
  // every connection stayed busy for the command timeout.
  Result<Lease> Acquire() {
    Slot* slot = TryClaim();
    if (slot == nullptr) {
      FALAJ_ASSIGN_OR_RETURN(slot, WaitAndClaim());
    }
    Lease lease(this, slot);
    if (lease->NeedsConnect()) FALAJ_RETURN_IF_ERROR(lease->Connect(target_));
    return lease;
  }

 private:
  Slot* TryClaim() {
    // Thread ids are aligned addresses: mix their bits before taking them modulo the size.
    thread_local const size_t hint =
        (std::hash<std::thread::id>()(std::this_thread::get_id()) * 0x9E3779B97F4A7C15ull) >> 32;
    for (size_t i = 0; i < size_; ++i) {
      Slot& slot = slots_[(hint + i) % size_];
      bool expected = false;
      if (!slot.busy.load(std::memory_order_relaxed) &&
          slot.busy.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
        return &slot;
      }
    }
    return nullptr;
  }

  Result<Slot*> WaitAndClaim() {
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(target_.timeout_ms);
    std::unique_lock lock(mutex_);
    // seq_cst pairs with Release(): either a claim below sees the freed slot, or the releaser
    // sees this waiter and notifies under the mutex, after this thread is waiting.
    waiters_.fetch_add(1);
    Slot* slot = nullptr;
    while ((slot = TryClaim()) == nullptr) {
      if (wakeup_.wait_until(lock, deadline) == std::cv_status::timeout) {
        if ((slot = TryClaim()) != nullptr) break;
        waiters_.fetch_sub(1);
        return MakeError(ErrorCode::kResourceExhausted,
                         "redis '{}': all {} pooled connections stayed busy for {} ms",
                         target_.redacted, size_, target_.timeout_ms);
      }
    }
    waiters_.fetch_sub(1);
    return slot;
  }

  void Release(Slot& slot) {
    slot.busy.store(false);
    if (waiters_.load() > 0) {
      std::lock_guard lock(mutex_);
      wakeup_.notify_all();
    }
  }

  const RedisTarget& target_;
  const size_t size_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<int> waiters_{0};
  std::mutex mutex_;  // guards nothing but the wait on wakeup_
  std::condition_variable wakeup_;
};

// A prefix as a SCAN MATCH pattern: every glob metacharacter escaped, then "*".
std::string PrefixPattern(std::string_view prefix) {
  std::string pattern;
  pattern.reserve(prefix.size() * 2 + 1);
  for (char c : prefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') pattern.push_back('\\');
    pattern.push_back(c);
  }
  pattern.push_back('*');
  return pattern;
}

class RedisKvStore final : public KvStore {
 public:
  explicit RedisKvStore(RedisTarget target) : target_(std::move(target)), pool_(target_) {}

  Status Ping() {
    FALAJ_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
    lease->Begin("PING");
    FALAJ_RETURN_IF_ERROR(lease->Execute(target_));
    return Ok();
  }

  using KvStore::Write;

  Status Write(std::span<const KvEntry> puts, KvWriteMode /*mode*/) override {
    if (puts.empty()) return Ok();
    FALAJ_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
    lease->Begin("MSET");
    for (const KvEntry& entry : puts) {
      lease->Add(entry.key);
      lease->Add(entry.value);
    }
    FALAJ_RETURN_IF_ERROR(lease->Execute(target_));
    return Ok();
  }

  Status MultiGet(std::span<const std::string_view> keys, KvValues& out) override {
    out.Clear();
    if (keys.empty()) return Ok();
    FALAJ_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
    lease->Begin("MGET");
    for (std::string_view key : keys) lease->Add(key);
    FALAJ_ASSIGN_OR_RETURN(ReplyPtr reply, lease->Execute(target_));
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != keys.size()) {
      return MakeError(ErrorCode::kInternal, "redis '{}': MGET: unexpected reply",
                       target_.redacted);
    }
    for (size_t i = 0; i < reply->elements; ++i) {
      const redisReply* element = reply->element[i];
      if (element->type == REDIS_REPLY_STRING) {
        out.AddFound({element->str, element->len});
      } else {
        out.AddMissing();  // nil: absent (or not a string, which this store never writes)
      }
    }
    return Ok();
  }

  Status Delete(std::span<const std::string_view> keys) override {
    if (keys.empty()) return Ok();
    FALAJ_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
    lease->Begin("UNLINK");
    for (std::string_view key : keys) lease->Add(key);
    FALAJ_RETURN_IF_ERROR(lease->Execute(target_));
    return Ok();
  }

  Result<uint64_t> DeletePrefix(std::string_view prefix) override {
    if (prefix.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "redis '{}': refusing to delete the empty prefix (every key)",
                       target_.redacted);
    }
    const std::string pattern = PrefixPattern(prefix);
    FALAJ_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
    uint64_t deleted = 0;
    std::string cursor = "0";
    do {
      FALAJ_ASSIGN_OR_RETURN(ReplyPtr keys, Scan(*lease, cursor, pattern));
      if (keys->element[1]->elements == 0) continue;
      lease->Begin("UNLINK");
      lease->AddStrings(*keys->element[1]);
      FALAJ_ASSIGN_OR_RETURN(ReplyPtr count, lease->Execute(target_));
      if (count->type == REDIS_REPLY_INTEGER) deleted += static_cast<uint64_t>(count->integer);
    } while (cursor != "0");
    return deleted;
  }

  Status ScanPrefix(
      std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& visit) override {
    const std::string pattern = PrefixPattern(prefix);
    std::string cursor = "0";
    std::vector<std::pair<std::string, std::string>> batch;
    do {
      batch.clear();
      {
        // The connection goes back to the pool before `visit` runs, so it may use this store.
        FALAJ_ASSIGN_OR_RETURN(auto lease, pool_.Acquire());
        FALAJ_ASSIGN_OR_RETURN(ReplyPtr keys, Scan(*lease, cursor, pattern));
        const redisReply* found = keys->element[1];
        if (found->elements == 0) continue;
        lease->Begin("MGET");
        lease->AddStrings(*found);
        FALAJ_ASSIGN_OR_RETURN(ReplyPtr values, lease->Execute(target_));
        for (size_t i = 0; i < values->elements && i < found->elements; ++i) {
          const redisReply* value = values->element[i];
          if (value->type != REDIS_REPLY_STRING) continue;  // deleted since SCAN saw it
          batch.emplace_back(std::string(found->element[i]->str, found->element[i]->len),
                             std::string(value->str, value->len));
        }
      }
      for (const auto& [key, value] : batch) {
        if (!visit(key, value)) return Ok();
      }
    } while (cursor != "0");
    return Ok();
  }

  Status Flush() override { return Ok(); }

 private:
  // One SCAN step: advances `cursor` and returns the reply, whose element[1] holds the keys.
  Result<ReplyPtr> Scan(Connection& connection, std::string& cursor, const std::string& pattern) {
    connection.Begin("SCAN");
    connection.Add(cursor);
    connection.Add("MATCH");
    connection.Add(pattern);
    connection.Add("COUNT");
    connection.Add(kScanCount);
    FALAJ_ASSIGN_OR_RETURN(ReplyPtr reply, connection.Execute(target_));
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_ARRAY) {
      return MakeError(ErrorCode::kInternal, "redis '{}': SCAN: unexpected reply",
                       target_.redacted);
    }
    cursor.assign(reply->element[0]->str, reply->element[0]->len);
    return reply;
  }

  const RedisTarget target_;
  ConnectionPool pool_;
};

// A server closing a connection must not kill the process: hiredis writes with write(2), which
// raises SIGPIPE. Left alone when the program chose its own disposition.
void IgnoreSigpipeIfDefault() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction current {};
    if (sigaction(SIGPIPE, nullptr, &current) == 0 && !(current.sa_flags & SA_SIGINFO) &&
        current.sa_handler == SIG_DFL) {
      signal(SIGPIPE, SIG_IGN);
    }
  });
}

}  // namespace

std::string RedactUriPassword(std::string_view uri) {
  // Without a scheme, read the whole text as what would follow one: it may still be "user:pw@…".
  auto separator = uri.find("://");
  size_t rest_start = separator == std::string_view::npos ? 0 : separator + 3;
  std::string_view scheme = uri.substr(0, separator == std::string_view::npos ? 0 : separator);
  std::string_view rest = uri.substr(rest_start);
  auto at = UserinfoEnd(scheme, rest);
  if (at == std::string_view::npos) return std::string(uri);
  std::string_view userinfo = rest.substr(0, at);
  auto colon = userinfo.find(':');
  size_t kept = colon == std::string_view::npos ? 0 : colon + 1;
  return fmt::format("{}***{}", uri.substr(0, rest_start + kept), rest.substr(at));
}

Result<std::unique_ptr<KvStore>> OpenRedisKvStore(std::string_view uri) {
  FALAJ_ASSIGN_OR_RETURN(RedisTarget target, ParseRedisUri(uri));
  IgnoreSigpipeIfDefault();
  auto store = std::make_unique<RedisKvStore>(std::move(target));
  FALAJ_RETURN_IF_ERROR(store->Ping());
  return store;
}

}  // namespace falaj::storage
