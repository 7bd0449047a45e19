// PointInTimeJoin as a sort-merge as-of join, per view:
//   1. Timestamps become int64 ticks of the finer of the two sides' units.
//   2. Join keys become dense ids: the value minus the minimum for one integer key of dense range,
//      else one hash per row into a table built from the entity keys. A feature row whose key no
//      entity row has drops out here.
//   3. Sort: the entity rows by (key id, ts), with a counting sort and small per-key sorts; the
//      feature rows only by key-id range, into partitions small enough that a partition's entity
//      rows stay in cache, in two parallel passes that read the Arrow chunks directly.
//   4. Merge, one partition at a time: a feature row lands on the first entity row of its key at
//      or after its ts, and each entity row keeps the latest (ts, created, row) landing on it; a
//      running maximum along each key's entity rows in time order then gives every entity row
//      the latest feature row at or before it, taken if within the TTL.
//   5. Gather the chosen rows of each feature column with Arrow's Take.
// Views run in parallel on one small worker pool, and each view's passes spread over idle
// workers.
#include "features/point_in_time_join.h"

#include <arrow/api.h>
#include <arrow/compute/api_vector.h>
#include <arrow/compute/initialize.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <thread>
#include <utility>

namespace falaj::features {
namespace {

constexpr uint32_t kNoKey = std::numeric_limits<uint32_t>::max();
constexpr int64_t kNanosPerSecond = 1'000'000'000;
// Fewest rows per chunk of a row-wise parallel loop: enough to amortise scheduling.
constexpr int64_t kMinRowsPerChunk = 4096;

// ---------------------------------------------------------------------------------------------
// Worker pool. ParallelFor lets the calling thread claim chunks too, so a view running on a
// worker can fan out without deadlock: it only ever waits for chunks that running threads hold.

class WorkerPool {
 public:
  explicit WorkerPool(int workers) {
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { Loop(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
  }
  size_t size() const { return workers_.size(); }
  void Submit(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
  }

 private:
  void Loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
  std::vector<std::jthread> workers_;        // last, so threads join before the rest is destroyed
};

Status RunGuarded(const std::function<Status(size_t)>& fn, size_t i) {
  try {
    return fn(i);
  } catch (const std::bad_alloc&) {
    return MakeError(ErrorCode::kResourceExhausted, "point-in-time join ran out of memory");
  } catch (const std::exception& e) {
    return MakeError(ErrorCode::kInternal, "point-in-time join failed: {}", e.what());
  }
}

// Runs fn(0) … fn(n-1) on the caller and idle workers; returns the first error, if any.
Status ParallelFor(WorkerPool& pool, size_t n, std::function<Status(size_t)> fn) {
  struct State {
    std::function<Status(size_t)> fn;
    size_t n = 0;
    std::atomic<size_t> next{0};
    std::mutex mu;
    std::condition_variable cv;
    size_t done = 0;  // guarded by mu
    Status status;    // guarded by mu
  };
  auto state = std::make_shared<State>();
  state->fn = std::move(fn);
  state->n = n;
  auto work = [](State& s) {
    for (size_t i; (i = s.next.fetch_add(1)) < s.n;) {
      Status status = RunGuarded(s.fn, i);
      std::lock_guard lock(s.mu);
      if (!status && s.status) s.status = std::move(status);
      if (++s.done == s.n) s.cv.notify_all();
    }
  };
  for (size_t i = 1; i < n && i <= pool.size(); ++i) pool.Submit([state, work] { work(*state); });
  work(*state);
  std::unique_lock lock(state->mu);
  state->cv.wait(lock, [&] { return state->done == state->n; });
  return state->status;
}

// Splits [0, size) into `parts` ranges at the positions `offsets` (non-decreasing, size + 1
// entries) reaches equal shares of its last value, so each part gets about the same work.
std::vector<size_t> SplitByWork(const std::vector<size_t>& offsets, size_t parts) {
  std::vector<size_t> bounds{0};
  for (size_t p = 1; p < parts; ++p) {
    const size_t target = offsets.back() * p / parts;
    bounds.push_back(std::max<size_t>(
        bounds.back(), std::lower_bound(offsets.begin(), offsets.end(), target) - offsets.begin()));
  }
  bounds.push_back(offsets.size() - 1);
  return bounds;
}

Status ToStatus(const arrow::Status& status, std::string_view what) {
  if (status.ok()) return Ok();
  const ErrorCode code =
      status.IsOutOfMemory() ? ErrorCode::kResourceExhausted : ErrorCode::kInternal;
  return MakeError(code, "{}: {}", what, status.ToString());
}

template <typename T>
Result<T> Unwrap(arrow::Result<T> result, std::string_view what) {
  if (!result.ok()) return std::unexpected(ToStatus(result.status(), what).error());
  return std::move(result).MoveValueUnsafe();
}

// ---------------------------------------------------------------------------------------------
// Columns and timestamps.

Result<std::shared_ptr<arrow::ChunkedArray>> Column(const arrow::Table& table,
                                                    const std::string& name,
                                                    const std::string& where) {
  auto column = table.GetColumnByName(name);
  if (!column) {
    return MakeError(ErrorCode::kInvalidArgument, "{} has no (unique) column '{}'", where, name);
  }
  return column;
}

// Ticks per second of a timestamp column: its unit for `timestamp`, microseconds for int64.
Result<int64_t> TicksPerSecond(const arrow::ChunkedArray& column, const std::string& name,
                               const std::string& where) {
  const auto& type = *column.type();
  if (type.id() == arrow::Type::INT64) return 1'000'000;
  if (type.id() == arrow::Type::TIMESTAMP) {
    constexpr int64_t kTicks[] = {1, 1'000, 1'000'000, kNanosPerSecond};  // by arrow::TimeUnit
    return kTicks[static_cast<const arrow::TimestampType&>(type).unit()];
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "column '{}' of {} must be timestamp or int64, not {}", name, where,
                   type.ToString());
}

Status Overflow(const std::string& name, const std::string& where, int64_t value, int64_t factor) {
  return MakeError(ErrorCode::kInvalidArgument,
                   "column '{}' of {}: value {} overflows int64 when scaled by {} to the other "
                   "side's time unit",
                   name, where, value, factor);
}

// Calls visit(begin, end, chunks, local) for consecutive runs of rows [begin, end) within [lo, hi)
// that lie in one chunk of every column: chunks[c] holds them in column c, from index local[c].
template <typename Visit>
Status ForEachRun(const std::vector<const arrow::ChunkedArray*>& columns, int64_t lo, int64_t hi,
                  Visit visit) {
  const size_t n = columns.size();
  std::vector<int> chunk(n, 0);
  std::vector<int64_t> start(n, 0), local(n, 0);
  std::vector<const arrow::Array*> arrays(n);
  for (int64_t row = lo; row < hi;) {
    int64_t end = hi;
    for (size_t c = 0; c < n; ++c) {
      while (start[c] + columns[c]->chunk(chunk[c])->length() <= row) {
        start[c] += columns[c]->chunk(chunk[c]++)->length();
      }
      arrays[c] = columns[c]->chunk(chunk[c]).get();
      local[c] = row - start[c];
      end = std::min(end, start[c] + arrays[c]->length());
    }
    FALAJ_RETURN_IF_ERROR(visit(row, end, arrays, local));
    row = end;
  }
  return Ok();
}

// ---------------------------------------------------------------------------------------------
// Join keys.

bool IsStringKey(const arrow::DataType& type) {
  return type.id() == arrow::Type::STRING || type.id() == arrow::Type::LARGE_STRING;
}
bool IsIntKey(const arrow::DataType& type) {
  return type.id() == arrow::Type::INT32 || type.id() == arrow::Type::INT64;
}

int64_t IntAt(const arrow::Array& array, int64_t i) {
  return array.type_id() == arrow::Type::INT32
             ? static_cast<const arrow::Int32Array&>(array).Value(i)
             : static_cast<const arrow::Int64Array&>(array).Value(i);
}
std::string_view StrAt(const arrow::Array& array, int64_t i) {
  return array.type_id() == arrow::Type::STRING
             ? static_cast<const arrow::StringArray&>(array).GetView(i)
             : static_cast<const arrow::LargeStringArray&>(array).GetView(i);
}

// The entity table's key columns, one value per row: integers widened to int64, strings as views
// into the table's buffers (the caller holds the table for the whole join).
struct KeyColumn {
  bool is_string = false;
  std::vector<int64_t> ints;
  std::vector<std::string_view> strings;
};

// Row `row` of flattened key columns, as KeyIds reads it.
struct FlatKey {
  const std::vector<KeyColumn>* columns = nullptr;
  size_t row = 0;
  int64_t Int(size_t c) const { return (*columns)[c].ints[row]; }
  std::string_view Str(size_t c) const { return (*columns)[c].strings[row]; }
};

// Index `i` of a run's key chunks (see ForEachRun), as KeyIds reads it.
struct ChunkKey {
  const std::vector<const arrow::Array*>* arrays = nullptr;
  const std::vector<int64_t>* local = nullptr;
  int64_t i = 0;
  int64_t Int(size_t c) const { return IntAt(*(*arrays)[c], (*local)[c] + i); }
  std::string_view Str(size_t c) const { return StrAt(*(*arrays)[c], (*local)[c] + i); }
};

uint64_t Mix(uint64_t x) {  // splitmix64's finaliser: spreads integer keys over the table
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Dense ids 0..size()-1 for the distinct non-null entity keys. Feature rows look their key up and
// get kNoKey when no entity row has it.
class KeyIds {
 public:
  // Assigns ids to the entity rows with `valid` set; others get kNoKey.
  KeyIds(const std::vector<KeyColumn>& keys, const std::vector<uint8_t>& valid,
         std::vector<uint32_t>* ids)
      : keys_(&keys) {
    ids->assign(valid.size(), kNoKey);
    if (TryDirect(valid, ids)) return;
    size_t capacity = 16;
    while (capacity < 2 * valid.size()) capacity *= 2;
    slots_.resize(capacity);
    mask_ = capacity - 1;
    for (size_t row = 0; row < valid.size(); ++row) {
      if (valid[row]) (*ids)[row] = Insert(row);
    }
  }

  uint32_t size() const { return size_; }

  // The id of a key shaped like the entity keys (FlatKey or ChunkKey), or kNoKey.
  template <typename Key>
  uint32_t Find(const Key& key) const {
    if (direct_) {
      const uint64_t offset = static_cast<uint64_t>(key.Int(0)) - static_cast<uint64_t>(min_);
      return offset < present_.size() && present_[offset] ? static_cast<uint32_t>(offset) : kNoKey;
    }
    const uint64_t hash = Hash(key);
    for (uint64_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
      const Slot& s = slots_[slot];
      if (s.id_plus_one == 0) return kNoKey;
      if (s.hash == hash && Equal(key, first_row_[s.id_plus_one - 1])) return s.id_plus_one - 1;
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t id_plus_one = 0;  // 0: empty
  };

  // A single integer key whose range is at most a few times the row count needs no hashing: the
  // id is the value minus the minimum.
  bool TryDirect(const std::vector<uint8_t>& valid, std::vector<uint32_t>* ids) {
    if (keys_->size() != 1 || (*keys_)[0].is_string) return false;
    const std::vector<int64_t>& values = (*keys_)[0].ints;
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
    for (size_t row = 0; row < valid.size(); ++row) {
      if (!valid[row]) continue;
      lo = std::min(lo, values[row]);
      hi = std::max(hi, values[row]);
    }
    direct_ = true;  // also when no row is valid: zero ids, every lookup finds kNoKey
    if (lo > hi) return true;
    const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
    if (range == 0 || range > std::max<uint64_t>(4096, 2 * valid.size())) {
      direct_ = false;
      return false;
    }
    min_ = lo;
    present_.assign(range, 0);
    for (size_t row = 0; row < valid.size(); ++row) {
      if (!valid[row]) continue;
      const uint64_t offset = static_cast<uint64_t>(values[row]) - static_cast<uint64_t>(lo);
      present_[offset] = 1;
      (*ids)[row] = static_cast<uint32_t>(offset);
    }
    size_ = static_cast<uint32_t>(range);
    return true;
  }

  uint32_t Insert(size_t row) {
    const FlatKey key{keys_, row};
    const uint64_t hash = Hash(key);
    for (uint64_t slot = hash & mask_;; slot = (slot + 1) & mask_) {
      Slot& s = slots_[slot];
      if (s.id_plus_one == 0) {
        first_row_.push_back(row);
        s = Slot{hash, ++size_};
        return size_ - 1;
      }
      if (s.hash == hash && Equal(key, first_row_[s.id_plus_one - 1])) return s.id_plus_one - 1;
    }
  }

  template <typename Key>
  uint64_t Hash(const Key& key) const {
    uint64_t hash = 0x9e3779b97f4a7c15ULL;
    for (size_t c = 0; c < keys_->size(); ++c) {
      hash = Mix(hash ^ ((*keys_)[c].is_string ? std::hash<std::string_view>{}(key.Str(c))
                                               : static_cast<uint64_t>(key.Int(c))));
    }
    return hash;
  }

  template <typename Key>
  bool Equal(const Key& key, size_t entity_row) const {
    for (size_t c = 0; c < keys_->size(); ++c) {
      const KeyColumn& ours = (*keys_)[c];
      if (ours.is_string ? ours.strings[entity_row] != key.Str(c)
                         : ours.ints[entity_row] != key.Int(c)) {
        return false;
      }
    }
    return true;
  }

  const std::vector<KeyColumn>* keys_ = nullptr;
  bool direct_ = false;
  int64_t min_ = 0;
  std::vector<uint8_t> present_;
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  std::vector<size_t> first_row_;  // the entity row that introduced each id
  uint32_t size_ = 0;
};

// ---------------------------------------------------------------------------------------------
// The entity side: flattened (it is the smaller side as a rule, and KeyIds needs random access to
// its keys) and sorted by (key id, ts).

struct EntityRow {
  int64_t ts = 0;
  int64_t row = 0;
};

// Flattens a key column (type checked by the planner); null keys clear `valid`.
KeyColumn FlattenKey(const arrow::ChunkedArray& column, std::vector<uint8_t>* valid) {
  KeyColumn key;
  key.is_string = IsStringKey(*column.type());
  (key.is_string ? key.strings.resize(column.length()) : key.ints.resize(column.length()));
  int64_t row = 0;
  for (const auto& chunk : column.chunks()) {
    for (int64_t i = 0; i < chunk->length(); ++i, ++row) {
      if (chunk->IsNull(i)) {
        (*valid)[row] = 0;
      } else if (key.is_string) {
        key.strings[row] = StrAt(*chunk, i);
      } else {
        key.ints[row] = IntAt(*chunk, i);
      }
    }
  }
  return key;
}

// Entity timestamps as ticks scaled by `factor`; nulls clear `valid`.
Status EntityTicks(const arrow::ChunkedArray& column, int64_t factor, const std::string& name,
                   std::vector<int64_t>* ticks, std::vector<uint8_t>* valid) {
  ticks->resize(column.length());
  int64_t row = 0;
  for (const auto& chunk : column.chunks()) {
    const int64_t* values = chunk->data()->GetValues<int64_t>(1);
    for (int64_t i = 0; i < chunk->length(); ++i, ++row) {
      if (chunk->IsNull(i)) {
        (*valid)[row] = 0;
      } else if (__builtin_mul_overflow(values[i], factor, &(*ticks)[row])) {
        return Overflow(name, "the entity table", values[i], factor);
      }
    }
  }
  return Ok();
}

struct EntitySide {
  std::vector<KeyColumn> keys;  // `ids` points at these
  std::unique_ptr<KeyIds> ids;
  std::vector<size_t> offsets;  // key id k owns rows[offsets[k], offsets[k + 1])
  std::vector<EntityRow> rows;  // rows with a key id and a ts, by key id then ts
};

Status BuildEntitySide(const arrow::Table& table, const std::vector<std::string>& keys,
                       const std::string& ts_name, int64_t factor, EntitySide* side) {
  std::vector<uint8_t> valid(table.num_rows(), 1);
  std::vector<int64_t> ts;
  FALAJ_ASSIGN_OR_RETURN(auto ts_column, Column(table, ts_name, "the entity table"));
  FALAJ_RETURN_IF_ERROR(EntityTicks(*ts_column, factor, ts_name, &ts, &valid));
  for (const auto& key : keys) {
    FALAJ_ASSIGN_OR_RETURN(auto column, Column(table, key, "the entity table"));
    side->keys.push_back(FlattenKey(*column, &valid));
  }
  std::vector<uint32_t> ids;
  side->ids = std::make_unique<KeyIds>(side->keys, valid, &ids);
  auto& offsets = side->offsets;  // counting sort by key id, then a small sort per key
  offsets.assign(static_cast<size_t>(side->ids->size()) + 1, 0);
  for (uint32_t id : ids) {
    if (id != kNoKey) ++offsets[id + 1];
  }
  for (size_t k = 1; k < offsets.size(); ++k) offsets[k] += offsets[k - 1];
  side->rows.resize(offsets.back());
  std::vector<size_t> cursor(offsets.begin(), offsets.end() - 1);
  for (size_t row = 0; row < ids.size(); ++row) {
    if (ids[row] != kNoKey) side->rows[cursor[ids[row]]++] = {ts[row], static_cast<int64_t>(row)};
  }
  for (size_t k = 0; k + 1 < offsets.size(); ++k) {
    std::sort(side->rows.begin() + offsets[k], side->rows.begin() + offsets[k + 1],
              [](const EntityRow& a, const EntityRow& b) { return a.ts < b.ts; });
  }
  return Ok();
}

// ---------------------------------------------------------------------------------------------
// The feature side: read straight from its Arrow chunks (see ForEachRun), never flattened, and
// partitioned by key-id range. A partition covers few enough keys that its entity rows stay in
// cache while its feature rows are merged in, and few enough partitions that scattering rows into
// them streams (one write position each) instead of missing the cache on every row.

// 16 bytes: the created ts stays in its column, read only to break a tie on ts.
struct FeatureRow {
  int64_t ts = 0;
  uint32_t row = 0;  // views are limited to 2^32 - 1 rows
  uint32_t key = 0;
};

// A view's created timestamps by row; a null one loses every tie.
class CreatedTs {
 public:
  explicit CreatedTs(const arrow::ChunkedArray& column) : column_(&column) {
    for (const auto& chunk : column.chunks()) starts_.push_back(starts_.back() + chunk->length());
  }
  int64_t At(int64_t row) const {
    const size_t c = std::upper_bound(starts_.begin(), starts_.end(), row) - starts_.begin() - 1;
    const arrow::Array& chunk = *column_->chunk(static_cast<int>(c));
    const int64_t i = row - starts_[c];
    return chunk.IsNull(i) ? std::numeric_limits<int64_t>::min()
                           : chunk.data()->GetValues<int64_t>(1)[i];
  }

 private:
  const arrow::ChunkedArray* column_ = nullptr;
  std::vector<int64_t> starts_{0};  // first row of each chunk, then the row count
};

// Whether feature row a beats b: later ts, then later created ts (if the view has them), then
// later row.
inline bool Later(const FeatureRow& a, const FeatureRow& b, const CreatedTs* created) {
  if (a.ts != b.ts) return a.ts > b.ts;
  if (created != nullptr) {
    const int64_t ca = created->At(a.row), cb = created->At(b.row);
    if (ca != cb) return ca > cb;
  }
  return a.row > b.row;
}

// The first of `rows` whose ts is not below `ts` (std::lower_bound), without branches to
// mispredict: keys hold few rows, and their order is random.
const EntityRow* FirstNotBefore(const EntityRow* rows, size_t n, int64_t ts) {
  if (n == 0) return rows;
  while (n > 1) {
    const size_t half = n / 2;
    rows = rows[half].ts < ts ? rows + half : rows;
    n -= half;
  }
  return rows + (rows->ts < ts);
}

// Uninitialised scratch from Arrow's memory pool: the rows are written before they are read, so
// zeroing them first would be a wasted pass over memory.
template <typename T>
class Scratch {
 public:
  static Result<Scratch> Make(int64_t n) {
    Scratch scratch;
    FALAJ_ASSIGN_OR_RETURN(scratch.buffer_,
                           Unwrap(arrow::AllocateBuffer(n * sizeof(T)), "scratch"));
    return scratch;
  }
  T* data() const { return reinterpret_cast<T*>(buffer_->mutable_data()); }

 private:
  std::unique_ptr<arrow::Buffer> buffer_;
};

// Columns that matching reads (join keys, event ts, created ts if any) and the partitioning.
struct FeatureSide {
  std::vector<const arrow::ChunkedArray*> columns;
  size_t num_keys = 0;
  bool has_created = false;
  int64_t factor = 1;  // scales the event ts to the join's unit
  std::string ts_name;
  std::string where;
  int shift = 0;  // partition of key id k: k >> shift
  size_t partitions = 1;
};

// Key ids of feature rows [lo, hi) into `ids` (kNoKey: a null key or ts, or a key no entity row
// has), counting rows per partition into `counts`.
Status FeatureIds(const FeatureSide& f, int64_t lo, int64_t hi, const KeyIds& key_ids,
                  uint32_t* ids, size_t* counts) {
  const size_t k = f.num_keys;
  return ForEachRun(
      f.columns, lo, hi,
      [&](int64_t begin, int64_t end, const auto& arrays, const auto& local) -> Status {
        for (int64_t i = 0; i < end - begin; ++i) {
          bool null = arrays[k]->IsNull(local[k] + i);
          for (size_t c = 0; c < k; ++c) null |= arrays[c]->IsNull(local[c] + i);
          const uint32_t id = null ? kNoKey : key_ids.Find(ChunkKey{&arrays, &local, i});
          ids[begin + i] = id;
          if (id != kNoKey) ++counts[id >> f.shift];
        }
        return Ok();
      });
}

// Scatters feature rows [lo, hi) into their partitions; `cursor` has a write position per
// partition. Rows keep table order within a partition.
Status ScatterFeatures(const FeatureSide& f, int64_t lo, int64_t hi, const uint32_t* ids,
                       size_t* cursor, FeatureRow* out) {
  const size_t k = f.num_keys;
  return ForEachRun(
      f.columns, lo, hi,
      [&](int64_t begin, int64_t end, const auto& arrays, const auto& local) -> Status {
        const int64_t* ts = arrays[k]->data()->template GetValues<int64_t>(1) + local[k];
        for (int64_t i = 0; i < end - begin; ++i) {
          const uint32_t id = ids[begin + i];
          if (id == kNoKey) continue;
          FeatureRow row;
          row.row = static_cast<uint32_t>(begin + i);
          row.key = id;
          if (__builtin_mul_overflow(ts[i], f.factor, &row.ts)) {
            return Overflow(f.ts_name, f.where, ts[i], f.factor);
          }
          out[cursor[id >> f.shift]++] = row;
        }
        return Ok();
      });
}

// Merges one partition: each feature row lands on the first entity row of its key at or after it,
// which keeps the latest (ts, created, row) landing there; walking each key's entity rows in time
// order with a running maximum then gives every entity row the latest feature row at or before
// it, taken if within the TTL (if the latest is too old, so is every other). The feature rows need
// no sort: O(f log e) for f feature and e entity rows per key.
void MergePartition(const EntitySide& e, std::span<const FeatureRow> features, size_t key_lo,
                    size_t key_hi, uint64_t max_age, const CreatedTs* created,
                    std::vector<const FeatureRow*>* landed, std::vector<int64_t>* picks) {
  const size_t base = e.offsets[key_lo];
  landed->assign(e.offsets[key_hi] - base, nullptr);
  for (const FeatureRow& f : features) {
    const size_t first = e.offsets[f.key], last = e.offsets[f.key + 1];
    const size_t at = FirstNotBefore(e.rows.data() + first, last - first, f.ts) - e.rows.data();
    if (at == last) continue;
    const FeatureRow*& slot = (*landed)[at - base];
    if (slot == nullptr || Later(f, *slot, created)) slot = &f;
  }
  for (size_t k = key_lo; k < key_hi; ++k) {
    const FeatureRow* latest = nullptr;
    for (size_t s = e.offsets[k]; s < e.offsets[k + 1]; ++s) {
      const FeatureRow* f = (*landed)[s - base];
      if (f != nullptr && (latest == nullptr || Later(*f, *latest, created))) latest = f;
      // Unsigned: e.ts - f.ts is non-negative and may not fit in int64.
      if (latest != nullptr &&
          static_cast<uint64_t>(e.rows[s].ts) - static_cast<uint64_t>(latest->ts) <= max_age) {
        (*picks)[e.rows[s].row] = latest->row;
      }
    }
  }
}

// Chooses partitions of about kEntityRowsPerPartition entity rows, at most kMaxPartitions.
void Partition(const EntitySide& e, FeatureSide* f) {
  constexpr size_t kEntityRowsPerPartition = 1024, kMaxPartitions = 4096;
  const size_t keys = e.offsets.size() - 1;
  const size_t wanted =
      std::clamp<size_t>(e.rows.size() / kEntityRowsPerPartition, 1, kMaxPartitions);
  while ((size_t{1} << f->shift) * wanted < keys) ++f->shift;
  f->partitions = std::max<size_t>(1, (keys + (size_t{1} << f->shift) - 1) >> f->shift);
}

// Feature rows bucketed by partition: partition p holds rows[starts[p], starts[p + 1]).
struct Partitioned {
  Scratch<FeatureRow> rows;
  std::vector<size_t> starts;
};

// Two parallel passes over row chunks: key ids and per-chunk partition counts, then a scatter in
// which each chunk writes from its own positions, so rows keep table order within a partition.
Result<Partitioned> PartitionFeatures(const FeatureSide& f, int64_t rows, const KeyIds& key_ids,
                                      WorkerPool& pool) {
  const int64_t chunk_rows =
      std::max<int64_t>(kMinRowsPerChunk, (rows + 4 * pool.size() + 3) / (4 * (pool.size() + 1)));
  const size_t chunks = std::max<int64_t>(1, (rows + chunk_rows - 1) / chunk_rows);
  const size_t parts = f.partitions;
  FALAJ_ASSIGN_OR_RETURN(auto ids, Scratch<uint32_t>::Make(rows));
  std::vector<size_t> counts(chunks * parts, 0);
  FALAJ_RETURN_IF_ERROR(ParallelFor(pool, chunks, [&](size_t c) -> Status {
    const int64_t lo = c * chunk_rows, hi = std::min(rows, lo + chunk_rows);
    return FeatureIds(f, lo, hi, key_ids, ids.data(), &counts[c * parts]);
  }));
  Partitioned out;
  out.starts.assign(parts + 1, 0);
  size_t total = 0;
  for (size_t p = 0; p < parts; ++p) {
    out.starts[p] = total;
    for (size_t c = 0; c < chunks; ++c) {  // counts become each chunk's write positions
      const size_t n = counts[c * parts + p];
      counts[c * parts + p] = total;
      total += n;
    }
  }
  out.starts[parts] = total;
  FALAJ_ASSIGN_OR_RETURN(out.rows, Scratch<FeatureRow>::Make(total));
  FALAJ_RETURN_IF_ERROR(ParallelFor(pool, chunks, [&](size_t c) -> Status {
    const int64_t lo = c * chunk_rows, hi = std::min(rows, lo + chunk_rows);
    return ScatterFeatures(f, lo, hi, ids.data(), &counts[c * parts], out.rows.data());
  }));
  return out;
}

// The view's columns that matching reads; the time-unit factor is set by the caller.
FeatureSide DescribeFeatures(const FeatureViewData& view, const EntitySide& e) {
  FeatureSide f;
  f.ts_name = view.event_timestamp_column;
  f.where = fmt::format("feature view '{}'", view.name);
  for (const auto& key : view.join_keys) {
    f.columns.push_back(view.table->GetColumnByName(key).get());
  }
  f.columns.push_back(view.table->GetColumnByName(f.ts_name).get());
  f.has_created = !view.created_timestamp_column.empty();
  if (f.has_created) {
    f.columns.push_back(view.table->GetColumnByName(view.created_timestamp_column).get());
  }
  f.num_keys = view.join_keys.size();
  Partition(e, &f);
  return f;
}

// Per entity row, the row of `view` to take, or -1.
Result<std::vector<int64_t>> MatchRows(const arrow::Table& entities, const std::string& entity_ts,
                                       const FeatureViewData& view, WorkerPool& pool) {
  const std::string where = fmt::format("feature view '{}'", view.name);
  const int64_t rows = view.table->num_rows();
  if (rows >= std::numeric_limits<uint32_t>::max()) {  // FeatureRow::row is 32 bits
    return MakeError(ErrorCode::kResourceExhausted, "{} has 2^32 - 1 rows or more", where);
  }
  FALAJ_ASSIGN_OR_RETURN(auto ets, Column(entities, entity_ts, "the entity table"));
  FALAJ_ASSIGN_OR_RETURN(auto fts, Column(*view.table, view.event_timestamp_column, where));
  FALAJ_ASSIGN_OR_RETURN(int64_t e_tps, TicksPerSecond(*ets, entity_ts, "the entity table"));
  FALAJ_ASSIGN_OR_RETURN(int64_t f_tps, TicksPerSecond(*fts, view.event_timestamp_column, where));
  const int64_t tps = std::max(e_tps, f_tps);  // units are powers of 1000: the finer divides
  // Ticks are integers, so e - f <= ttl exactly when e - f <= floor(ttl in ticks).
  const uint64_t max_age = view.ttl.count() == 0 ? std::numeric_limits<uint64_t>::max()
                                                 : view.ttl.count() / (kNanosPerSecond / tps);

  EntitySide e;
  FALAJ_RETURN_IF_ERROR(BuildEntitySide(entities, view.join_keys, entity_ts, tps / e_tps, &e));
  FeatureSide f = DescribeFeatures(view, e);
  f.factor = tps / f_tps;
  FALAJ_ASSIGN_OR_RETURN(Partitioned features, PartitionFeatures(f, rows, *e.ids, pool));

  std::optional<CreatedTs> created;
  if (f.has_created) created.emplace(*f.columns.back());
  std::vector<int64_t> picks(entities.num_rows(), -1);
  const size_t keys = e.offsets.size() - 1;
  const auto groups = SplitByWork(features.starts, 4 * (pool.size() + 1));
  FALAJ_RETURN_IF_ERROR(ParallelFor(pool, groups.size() - 1, [&](size_t g) -> Status {
    std::vector<const FeatureRow*> landed;
    for (size_t p = groups[g]; p < groups[g + 1]; ++p) {
      const std::span<const FeatureRow> rows_of_p(features.rows.data() + features.starts[p],
                                                  features.starts[p + 1] - features.starts[p]);
      MergePartition(e, rows_of_p, p << f.shift, std::min(keys, (p + 1) << f.shift), max_age,
                     created ? &*created : nullptr, &landed, &picks);
    }
    return Ok();
  }));
  return picks;
}

// ---------------------------------------------------------------------------------------------
// Gather.

// The picked rows of a column, null where nothing matched. Arrow's Take is as fast here as a
// hand-written gather for primitive types was (measured), and handles every type.
Result<std::shared_ptr<arrow::ChunkedArray>> Gather(const arrow::ChunkedArray& column,
                                                    const std::vector<int64_t>& picks) {
  static const arrow::Status init = arrow::compute::Initialize();
  FALAJ_RETURN_IF_ERROR(ToStatus(init, "initialising Arrow compute"));
  arrow::Int64Builder builder;
  FALAJ_RETURN_IF_ERROR(ToStatus(builder.Reserve(static_cast<int64_t>(picks.size())), "gather"));
  for (int64_t pick : picks) pick >= 0 ? builder.UnsafeAppend(pick) : builder.UnsafeAppendNull();
  std::shared_ptr<arrow::Array> indices;
  FALAJ_RETURN_IF_ERROR(ToStatus(builder.Finish(&indices), "gather"));
  FALAJ_ASSIGN_OR_RETURN(arrow::Datum taken,
                         Unwrap(arrow::compute::Take(arrow::Datum(column), arrow::Datum(indices),
                                                     arrow::compute::TakeOptions::NoBoundsCheck()),
                                "gather"));
  return taken.chunked_array();
}

// ---------------------------------------------------------------------------------------------
// Planning: checks every input before any work, and names the output columns.

struct ViewPlan {
  const FeatureViewData* view = nullptr;
  std::vector<std::string> features;      // source columns
  std::vector<std::string> output_names;  // same order
};

Status CheckKey(const arrow::Table& entities, const FeatureViewData& view, const std::string& key,
                const std::string& where) {
  FALAJ_ASSIGN_OR_RETURN(auto ours, Column(entities, key, "the entity table"));
  FALAJ_ASSIGN_OR_RETURN(auto theirs, Column(*view.table, key, where));
  const auto& a = *ours->type();
  const auto& b = *theirs->type();
  if (!(IsIntKey(a) || IsStringKey(a)) || !(IsIntKey(b) || IsStringKey(b))) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "join key '{}' of {} must be int32, int64, utf8 or large_utf8 (entity table: {}, "
        "view: {})",
        key, where, a.ToString(), b.ToString());
  }
  if (IsIntKey(a) != IsIntKey(b)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "join key '{}' is {} in the entity table but {} in {}", key, a.ToString(),
                     b.ToString(), where);
  }
  return Ok();
}

Result<ViewPlan> PlanView(const arrow::Table& entities, const FeatureViewData& view,
                          const PointInTimeJoinOptions& options) {
  if (view.name.empty())
    return MakeError(ErrorCode::kInvalidArgument, "a feature view has no name");
  const std::string where = fmt::format("feature view '{}'", view.name);
  if (!view.table) return MakeError(ErrorCode::kInvalidArgument, "{} has no table", where);
  if (view.join_keys.empty())
    return MakeError(ErrorCode::kInvalidArgument, "{} has no join keys", where);
  if (view.ttl.count() < 0)
    return MakeError(ErrorCode::kInvalidArgument, "{} has a negative ttl", where);
  for (const auto& key : view.join_keys)
    FALAJ_RETURN_IF_ERROR(CheckKey(entities, view, key, where));
  FALAJ_ASSIGN_OR_RETURN(auto ets,
                         Column(entities, options.entity_timestamp_column, "the entity table"));
  FALAJ_RETURN_IF_ERROR(TicksPerSecond(*ets, options.entity_timestamp_column, "the entity table"));
  std::set<std::string> skip(view.join_keys.begin(), view.join_keys.end());
  for (const std::string* name : {&view.event_timestamp_column, &view.created_timestamp_column}) {
    if (name->empty() && name == &view.created_timestamp_column) continue;
    FALAJ_ASSIGN_OR_RETURN(auto ts, Column(*view.table, *name, where));
    FALAJ_RETURN_IF_ERROR(TicksPerSecond(*ts, *name, where));
    skip.insert(*name);
  }
  ViewPlan plan{&view, view.features, {}};
  if (plan.features.empty()) {
    for (const auto& field : view.table->schema()->fields()) {
      if (!skip.contains(field->name())) plan.features.push_back(field->name());
    }
  }
  for (const auto& feature : plan.features) {
    FALAJ_RETURN_IF_ERROR(Column(*view.table, feature, where));
    plan.output_names.push_back(options.full_feature_names ? view.name + "__" + feature : feature);
  }
  return plan;
}

Result<std::vector<ViewPlan>> PlanAll(const arrow::Table& entities,
                                      std::span<const FeatureViewData> views,
                                      const PointInTimeJoinOptions& options) {
  std::vector<ViewPlan> plans;
  std::map<std::string, std::string> owner;  // output column -> who produces it
  for (const auto& field : entities.schema()->fields())
    owner.emplace(field->name(), "the entity table");
  for (const auto& view : views) {
    FALAJ_ASSIGN_OR_RETURN(ViewPlan plan, PlanView(entities, view, options));
    for (const auto& name : plan.output_names) {
      auto [it, fresh] = owner.emplace(name, fmt::format("feature view '{}'", view.name));
      if (!fresh) {
        return MakeError(
            ErrorCode::kInvalidArgument,
            "output column '{}' comes from both {} and feature view '{}'; rename it or "
            "request full feature names",
            name, it->second, view.name);
      }
    }
    plans.push_back(std::move(plan));
  }
  return plans;
}

Result<std::vector<std::shared_ptr<arrow::ChunkedArray>>> JoinView(const arrow::Table& entities,
                                                                   const std::string& entity_ts,
                                                                   const ViewPlan& plan,
                                                                   WorkerPool& pool) {
  FALAJ_ASSIGN_OR_RETURN(std::vector<int64_t> picks,
                         MatchRows(entities, entity_ts, *plan.view, pool));
  std::vector<std::shared_ptr<arrow::ChunkedArray>> columns(plan.features.size());
  FALAJ_RETURN_IF_ERROR(ParallelFor(pool, columns.size(), [&](size_t c) -> Status {
    const auto column = plan.view->table->GetColumnByName(plan.features[c]);
    FALAJ_ASSIGN_OR_RETURN(columns[c], Gather(*column, picks));
    return Ok();
  }));
  return columns;
}

}  // namespace

Result<std::shared_ptr<arrow::Table>> PointInTimeJoin(const std::shared_ptr<arrow::Table>& entities,
                                                      std::span<const FeatureViewData> views,
                                                      const PointInTimeJoinOptions& options) {
  if (!entities) return MakeError(ErrorCode::kInvalidArgument, "the entity table is missing");
  FALAJ_ASSIGN_OR_RETURN(std::vector<ViewPlan> plans, PlanAll(*entities, views, options));
  const int threads = options.threads > 0
                          ? options.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<std::vector<std::shared_ptr<arrow::ChunkedArray>>> joined(plans.size());
  auto run = [&]() -> Status {
    WorkerPool pool(threads - 1);  // the calling thread is the last worker
    return ParallelFor(pool, plans.size(), [&](size_t v) -> Status {
      FALAJ_ASSIGN_OR_RETURN(joined[v],
                             JoinView(*entities, options.entity_timestamp_column, plans[v], pool));
      return Ok();
    });
  };
  FALAJ_RETURN_IF_ERROR(RunGuarded([&](size_t) { return run(); }, 0));  // e.g. no threads to start
  auto fields = entities->schema()->fields();
  auto columns = entities->columns();
  for (size_t v = 0; v < plans.size(); ++v) {
    for (size_t c = 0; c < joined[v].size(); ++c) {
      const auto& source = plans[v].view->table->schema()->GetFieldByName(plans[v].features[c]);
      fields.push_back(source->WithName(plans[v].output_names[c])->WithNullable(true));
      columns.push_back(std::move(joined[v][c]));
    }
  }
  return arrow::Table::Make(arrow::schema(fields, entities->schema()->metadata()), columns,
                            entities->num_rows());
}

}  // namespace falaj::features
