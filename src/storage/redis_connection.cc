#include "storage/redis_connection.h"

#include <errno.h>
#include <poll.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <initializer_list>
#include <string>
#include <thread>

namespace falaj::storage {
namespace {

// A connection keeps argument scratch for up to this many arguments between calls.
constexpr size_t kMaxRetainedArgs = 8192;

timeval ToTimeval(int64_t millis) {
  return timeval{static_cast<time_t>(millis / 1000),
                 static_cast<suseconds_t>(millis % 1000 * 1000)};
}

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

}  // namespace

bool Connection::NeedsConnect() const {
  if (context_ == nullptr || context_->err != 0) return true;
  pollfd fd{context_->fd, POLLIN, 0};
  return ::poll(&fd, 1, 0) != 0;
}

Status Connection::Connect(const RedisTarget& target) {
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

Result<ReplyPtr> Connection::Execute(const RedisTarget& target) {
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

Status Connection::Setup(const RedisTarget& target) {
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

void Connection::TrimScratch() {
  if (argv_.capacity() <= kMaxRetainedArgs) return;
  argv_ = {};
  lengths_ = {};
}

void Connection::Disconnect() {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  Slot* slot = TryClaim();
  if (slot == nullptr) {
    FALAJ_ASSIGN_OR_RETURN(slot, WaitAndClaim());
  }
  Lease lease(this, slot);
  if (lease->NeedsConnect()) FALAJ_RETURN_IF_ERROR(lease->Connect(target_));
  return lease;
}

ConnectionPool::Slot* ConnectionPool::TryClaim() {
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

Result<ConnectionPool::Slot*> ConnectionPool::WaitAndClaim() {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(target_.timeout_ms);
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

void ConnectionPool::Release(Slot& slot) {
  slot.busy.store(false);
  if (waiters_.load() > 0) {
    std::lock_guard lock(mutex_);
    wakeup_.notify_all();
  }
}

}  // namespace falaj::storage
