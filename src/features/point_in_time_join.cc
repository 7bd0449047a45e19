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
// workers. Planning (input checks, output names) is in pit_plan, join keys as dense ids in
// pit_keys, and timestamp units in pit_timestamps.
#include "features/point_in_time_join.h"

#include <arrow/api.h>
#include <arrow/compute/api_vector.h>
#include <arrow/compute/initialize.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "common/worker_pool.h"
#include "features/pit_keys.h"
#include "features/pit_plan.h"
#include "features/pit_timestamps.h"

namespace falaj::features {
namespace pit {
namespace {

// The job's name in errors from exceptions (see RunGuarded).
constexpr std::string_view kJob = "point-in-time join";
// Fewest rows per chunk of a row-wise parallel loop: enough to amortise scheduling.
constexpr int64_t kMinRowsPerChunk = 4096;

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
// Reading Arrow chunks.

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
// The entity side: flattened (it is the smaller side as a rule, and KeyIds needs random access to
// its keys) and sorted by (key id, ts).

struct EntityRow {
  int64_t ts = 0;
  int64_t row = 0;
};

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
            return OverflowError(f.ts_name, f.where, ts[i], f.factor);
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
  const uint64_t max_age = MaxAgeTicks(view.ttl, tps);

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

// One view's feature columns, in plan order, aligned with the entity rows.
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
}  // namespace pit

Result<std::shared_ptr<arrow::Table>> PointInTimeJoin(const std::shared_ptr<arrow::Table>& entities,
                                                      std::span<const FeatureViewData> views,
                                                      const PointInTimeJoinOptions& options) {
  if (!entities) return MakeError(ErrorCode::kInvalidArgument, "the entity table is missing");
  FALAJ_ASSIGN_OR_RETURN(std::vector<pit::ViewPlan> plans, pit::PlanAll(*entities, views, options));
  const int threads = options.threads > 0
                          ? options.threads
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  std::vector<std::vector<std::shared_ptr<arrow::ChunkedArray>>> joined(plans.size());
  auto run = [&]() -> Status {
    WorkerPool pool(threads - 1, std::string(pit::kJob));  // the caller is the last worker
    return ParallelFor(pool, plans.size(), [&](size_t v) -> Status {
      FALAJ_ASSIGN_OR_RETURN(
          joined[v], pit::JoinView(*entities, options.entity_timestamp_column, plans[v], pool));
      return Ok();
    });
  };
  FALAJ_RETURN_IF_ERROR(RunGuarded(pit::kJob, run));  // e.g. no threads to start
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
