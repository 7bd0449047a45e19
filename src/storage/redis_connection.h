// Internal to the storage module (the Redis KvStore backend): hiredis connections to a
// RedisTarget and the bounded pool that shares them between threads. A Connection connects,
// authenticates and selects the database, then sends commands built argument by argument and
// turns error replies and broken connections into errors. The pool hands out connections as
// Leases, reconnecting one that broke or that the server closed while it sat idle.
//
// Thread-safety: a Connection is not thread-safe (hiredis contexts are not); it is used only by
// the thread that holds its Lease. ConnectionPool::Acquire may be called from any thread: it is a
// lock-free claim in the common case, and waits (up to the command timeout) only when every
// connection is busy.
#pragma once

#include <hiredis/hiredis.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "storage/redis_uri.h"

namespace falaj::storage {

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

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
  bool NeedsConnect() const;

  // Connects (dropping any previous connection), sets the command timeout, authenticates and
  // selects the database. UNAVAILABLE when the server cannot be reached; AUTH and SELECT fail as
  // Execute() does.
  Status Connect(const RedisTarget& target);

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
  Result<ReplyPtr> Execute(const RedisTarget& target);

 private:
  Status Setup(const RedisTarget& target);
  void TrimScratch();
  void Disconnect();

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

  // `target` must outlive the pool.
  explicit ConnectionPool(const RedisTarget& target)
      : target_(target),
        size_(static_cast<size_t>(target.pool_size)),
        slots_(std::make_unique<Slot[]>(size_)) {}

  // A connected connection, or UNAVAILABLE when (re)connecting fails, or RESOURCE_EXHAUSTED when
  // every connection stayed busy for the command timeout.
  Result<Lease> Acquire();

 private:
  Slot* TryClaim();
  Result<Slot*> WaitAndClaim();
  void Release(Slot& slot);

  const RedisTarget& target_;
  const size_t size_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<int> waiters_{0};
  std::mutex mutex_;  // guards nothing but the wait on wakeup_
  std::condition_variable wakeup_;
};

}  // namespace falaj::storage
