// KvStore: the online feature store's key-value storage. Keys and values are arbitrary bytes (NUL
// included). Backends are chosen by URI scheme through OpenKvStore():
//
//   rocksdb:///abs/dir[?block_cache_mb=N&row_cache_mb=N]      embedded, the default deployment
//   redis://[[user]:password@]host[:port][/db][?options]       scale-out (port 6379, db 0)
//   redis+unix://[[user]:password@]/path/redis.sock[?db=N&options]
//
// Redis options: pool_size (connections, default 8), connect_timeout_ms (default 2000),
// timeout_ms (per command, default 5000). Unknown options are rejected. A password containing
// '@', '/', ':' or '%' must be percent-encoded. Error messages name the URI with its password
// replaced by "***".
//
// Every backend gives the same contract except where a method says otherwise: the same test
// suite (kv_store_test.cc) runs against each.
//
// Thread-safety: every KvStore method may be called concurrently from any number of threads;
// reads take no store-wide lock. A store must outlive every call made on it. A KvValues is a
// single-owner object: one thread at a time fills and reads it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace falaj::storage {

// One put. Non-owning: the bytes must stay alive until the Write() call that takes them returns.
struct KvEntry {
  std::string_view key{};
  std::string_view value{};
};

// The answer to one MultiGet(): slot i answers key i. The caller owns it and passes the same
// object to every call, so a steady-state lookup loop stops allocating once its buffers have grown
// to fit the largest batch.
class KvValues {
 public:
  size_t size() const { return slots_.size(); }
  bool found(size_t i) const { return slots_[i].found; }
  // The value for key i: empty when the key was not found (use found() to tell an empty value
  // from a missing key). Valid until this object is next filled or destroyed.
  std::string_view value(size_t i) const {
    return {arena_.data() + slots_[i].offset, slots_[i].size};
  }

  // For backends: empty the object, keeping its capacity, then add one slot per key in order.
  void Clear() {
    arena_.clear();
    slots_.clear();
  }
  void AddFound(std::string_view value) {
    slots_.push_back(Slot{arena_.size(), value.size(), true});
    arena_.append(value);
  }
  void AddMissing() { slots_.push_back(Slot{arena_.size(), 0, false}); }

 private:
  // Offsets rather than views: the arena may reallocate while it is being filled.
  struct Slot {
    size_t offset = 0;
    size_t size = 0;
    bool found = false;
  };
  std::string arena_;
  std::vector<Slot> slots_;
};

// How hard a Write() works to survive a crash. Redis ignores it: there durability is the server's
// persistence configuration (appendonly, appendfsync), and a write is acknowledged once applied.
enum class KvWriteMode {
  // On stable storage before Write() returns (RocksDB: write-ahead log, fsynced).
  kSync,
  // Survives a crash of this process but not of the machine (RocksDB: WAL written, not fsynced).
  kBuffered,
  // Survives no crash until Flush() returns or the store is destroyed cleanly (RocksDB: no WAL;
  // memtables are written out then). For loads that can be re-run from their source, such as
  // materialisation: write every batch with kBulk, then Flush() before recording the load as
  // done. The fastest mode for big batches.
  kBulk,
};

class KvStore {
 public:
  virtual ~KvStore() = default;

  // Puts every entry as one atomic batch: a concurrent MultiGet() sees all of it or none of it. A
  // key repeated in `puts` ends with its last value. An empty span succeeds and does nothing.
  // Batches of a few thousand to tens of thousands of entries are the efficient size; on Redis one
  // batch is one MSET command, which the server runs without serving anyone else meanwhile.
  // On failure nothing of the batch is visible (RocksDB) or, on Redis, the outcome is unknown when
  // the connection broke after sending (UNAVAILABLE / DEADLINE_EXCEEDED).
  virtual Status Write(std::span<const KvEntry> puts, KvWriteMode mode) = 0;
  Status Write(std::span<const KvEntry> puts) { return Write(puts, KvWriteMode::kSync); }

  // Loads the entries `next` produces, whose keys must be strictly ascending in byte order
  // (unique, sorted), as fast as the backend can: for loading a key range that holds no keys yet,
  // such as a first or full materialisation. `next` fills its argument and returns true, or
  // returns false at the end; the entry's bytes need stay valid only until the next call, so a
  // producer can encode each entry into one reused buffer. INVALID_ARGUMENT when the keys are not
  // strictly ascending. No entries succeeds and does nothing.
  // RocksDB streams the entries into table files (no write-ahead log, memtable or flush) and
  // ingests them in one step: all become visible at once, durably, when this returns, and on
  // failure none does. Keys already stored in the range are overwritten, but then the files
  // cannot go to the bottom level and reads get slower until compaction: keep the range empty.
  // Redis (the default below) sends Write() batches of kBulkLoadBatch entries; on failure the
  // batches before it stay stored.
  virtual Status BulkLoadSorted(const std::function<bool(KvEntry& entry)>& next);
  Status BulkLoadSorted(std::span<const KvEntry> puts);
  static constexpr size_t kBulkLoadBatch = 10000;

  // Looks up every key, reading all of them at one point in time (one snapshot: a batch written by
  // Write() is seen whole or not at all). On success `out` has exactly keys.size() slots. On
  // failure `out` is left in an unspecified but valid state. Missing keys are not an error.
  // Duplicate keys are allowed and answered in place.
  virtual Status MultiGet(std::span<const std::string_view> keys, KvValues& out) = 0;

  // MultiGet() answered from memory alone, for callers that must not block (an I/O thread): true
  // with `out` filled as MultiGet() fills it, or false, `out` unspecified, when any key would need
  // disk or network I/O. RocksDB answers from memtables, its block and row caches and open table
  // files; Redis, always remote, always answers false.
  virtual Result<bool> MultiGetFromMemory(std::span<const std::string_view> /*keys*/,
                                          KvValues& /*out*/) {
    return false;
  }

  // Deletes the keys as one atomic, durable (kSync) batch. Absent keys are not an error.
  virtual Status Delete(std::span<const std::string_view> keys) = 0;

  // Deletes every key starting with `prefix` and returns how many it deleted; keys written under
  // the prefix while it runs may or may not survive. INVALID_ARGUMENT for an empty prefix, which
  // would wipe the store. Not atomic: on failure part of the prefix may be gone, and calling again
  // finishes the job. RocksDB also compacts the range, so erased bytes do not linger in its files
  // (data-subject erasure); the cost is I/O on the files overlapping the prefix. Redis walks the
  // whole keyspace with SCAN: the cost grows with the database, not with the prefix.
  virtual Result<uint64_t> DeletePrefix(std::string_view prefix) = 0;

  // Calls `visit` for each key starting with `prefix` (the empty prefix visits everything) until it
  // returns false. The views are valid only during the call. RocksDB visits in ascending byte order
  // from one snapshot; Redis visits in no particular order, may visit a key more than once if the
  // keyspace is resized meanwhile, and sees concurrent writes or not. `visit` may call this store.
  // Not for the hot path: on RocksDB it bypasses the block cache to keep hot blocks cached.
  virtual Status ScanPrefix(
      std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& visit) = 0;

  // Makes every successful kBulk write durable. A no-op on Redis.
  virtual Status Flush() = 0;
};

using KvStoreFactory = std::function<Result<std::unique_ptr<KvStore>>(std::string_view uri)>;

// Registers a backend for a URI scheme. Registering a scheme twice aborts.
void RegisterKvStoreScheme(std::string scheme, KvStoreFactory factory);

// Opens the store named by `uri` (see the top of this file). INVALID_ARGUMENT for an unknown scheme
// or a malformed URI; UNAVAILABLE when the RocksDB directory is in use by another process or
// store, or the Redis server cannot be reached; UNAUTHENTICATED when Redis refuses the password.
// A Redis store connects and checks the server at open, and ignores SIGPIPE process-wide if it was
// left at its default (which would kill the process when a server closes a connection).
Result<std::unique_ptr<KvStore>> OpenKvStore(std::string_view uri);

}  // namespace falaj::storage
