#include "storage/rocksdb_kv_store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace falaj::storage {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kScheme = "rocksdb://";
constexpr uint64_t kDefaultBlockCacheMb = 256;
constexpr uint64_t kDefaultRowCacheMb = 256;
constexpr uint64_t kMaxCacheMb = uint64_t{1} << 20;
// A thread keeps MultiGet scratch for up to this many keys between calls; a rare huge batch
// should not pin megabytes in every thread that ever made one.
constexpr size_t kMaxRetainedScratchKeys = 4096;
// DeletePrefix writes its tombstones in batches of this many keys.
constexpr size_t kDeleteBatchKeys = 10000;
constexpr uint64_t kMemtableBytes = 64 << 20;
// A bulk load starts a new table file after this many bytes: a few big files rather than one
// huge one, which a later overlapping compaction would have to rewrite whole.
constexpr uint64_t kBulkFileBytes = 4 * kMemtableBytes;

rocksdb::Slice ToSlice(std::string_view bytes) { return {bytes.data(), bytes.size()}; }
std::string_view ToView(const rocksdb::Slice& slice) { return {slice.data(), slice.size()}; }

Error RocksError(const rocksdb::Status& status, std::string_view uri, std::string_view what) {
  ErrorCode code = ErrorCode::kInternal;
  if (status.IsNotFound()) {
    code = ErrorCode::kNotFound;
  } else if (status.IsCorruption()) {
    code = ErrorCode::kDataLoss;
  } else if (status.IsNoSpace() || status.IsMemoryLimit()) {
    code = ErrorCode::kResourceExhausted;
  } else if (status.IsInvalidArgument()) {
    code = ErrorCode::kInvalidArgument;
  } else if (status.IsNotSupported()) {
    code = ErrorCode::kUnimplemented;
  } else if (status.IsIOError() || status.IsBusy() || status.IsTryAgain() || status.IsTimedOut() ||
             status.IsAborted() || status.IsShutdownInProgress() || status.IsIncomplete()) {
    code = ErrorCode::kUnavailable;
  }
  return Error{code, fmt::format("rocksdb '{}': {}: {}", uri, what, status.ToString())};
}

// The smallest key greater than every key that starts with `prefix`, or "" when there is none
// (the prefix is all 0xff bytes).
std::string PrefixSuccessor(std::string_view prefix) {
  std::string successor(prefix);
  while (!successor.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(successor.back());
    if (last != 0xff) {
      ++last;
      return successor;
    }
    successor.pop_back();
  }
  return successor;
}

struct RocksDbUri {
  std::string path;
  uint64_t block_cache_mb = kDefaultBlockCacheMb;
  uint64_t row_cache_mb = kDefaultRowCacheMb;
};

Result<RocksDbUri> ParseRocksDbUri(std::string_view uri) {
  if (uri.size() < kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), uri.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      })) {
    return MakeError(ErrorCode::kInvalidArgument, "rocksdb URI '{}' does not start with {}", uri,
                     kScheme);
  }
  std::string_view rest = uri.substr(kScheme.size());
  std::string_view query;
  if (auto mark = rest.find('?'); mark != std::string_view::npos) {
    query = rest.substr(mark + 1);
    rest = rest.substr(0, mark);
  }
  if (rest.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "rocksdb URI '{}' names no directory", uri);
  }
  RocksDbUri parsed;
  std::error_code error;
  parsed.path = fs::absolute(fs::path(rest), error).lexically_normal().string();
  if (error) {
    return MakeError(ErrorCode::kInvalidArgument, "rocksdb URI '{}': bad path: {}", uri,
                     error.message());
  }
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto equals = param.find('=');
    std::string_view name = param.substr(0, equals);
    std::string_view number = equals == std::string_view::npos ? "" : param.substr(equals + 1);
    uint64_t* field = name == "block_cache_mb" ? &parsed.block_cache_mb
                      : name == "row_cache_mb" ? &parsed.row_cache_mb
                                               : nullptr;
    if (field == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "rocksdb URI '{}': unknown option '{}'; known: block_cache_mb, row_cache_mb",
                       uri, name);
    }
    const uint64_t min = field == &parsed.block_cache_mb ? 1 : 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), *field);
    if (number.empty() || ec != std::errc() || end != number.data() + number.size() ||
        *field < min || *field > kMaxCacheMb) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "rocksdb URI '{}': {} must be an integer in {}..{}", uri, name, min,
                       kMaxCacheMb);
    }
  }
  return parsed;
}

rocksdb::Options MakeOptions(const RocksDbUri& uri) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(uri.block_cache_mb << 20);
  // Online lookups are point lookups of keys that are often absent (new entities): a whole-key
  // bloom filter (~1% false positives at 10 bits/key) skips files without reading their blocks,
  // and a hash index inside each data block skips the binary search within it.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  table.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  table.data_block_hash_table_util_ratio = 0.75;
  // The hash index finds a key's restart interval, which is then scanned linearly: short
  // intervals cut that scan (~1.4k fewer instructions per block-cache lookup than 16, the default).
  table.block_restart_interval = 4;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // A hot entity's row answered from the row cache skips the bloom filter, index and data-block
  // searches: ~2 µs per warm lookup against ~5 µs through the block cache (1M entities × 50
  // features), so size it to the hot rows and the block cache can stay small. Rows have no
  // priorities: without a high-priority pool a lookup skips rebalancing one.
  if (uri.row_cache_mb > 0) {
    rocksdb::LRUCacheOptions row_cache(uri.row_cache_mb << 20, /*num_shard_bits=*/-1,
                                       /*strict_capacity_limit=*/false,
                                       /*high_pri_pool_ratio=*/0.0);
    options.row_cache = rocksdb::NewLRUCache(row_cache);
  }
  options.memtable_prefix_bloom_size_ratio = 0.02;
  options.memtable_whole_key_filtering = true;

  // Bulk materialisation writes hundreds of MB at a time: big memtables mean fewer, larger
  // flushes, and dynamic level sizing keeps space amplification low as the store grows.
  options.write_buffer_size = kMemtableBytes;
  options.max_write_buffer_number = 4;
  options.min_write_buffer_number_to_merge = 1;
  options.target_file_size_base = kMemtableBytes;
  options.max_bytes_for_level_base = 4 * kMemtableBytes;
  options.level_compaction_dynamic_level_bytes = true;
  options.bytes_per_sync = 1 << 20;
  // Serialised float features compress little. Flushes and the first compaction stay
  // uncompressed, so a bulk load and its Flush() spend no CPU on it; the deep levels, which hold
  // most of the data for longest, use LZ4 (decompressed only on a block-cache miss).
  options.compression_per_level = {rocksdb::kNoCompression, rocksdb::kNoCompression,
                                   rocksdb::kLZ4Compression};
  options.bottommost_compression = rocksdb::kLZ4Compression;
  return options;
}

rocksdb::WriteOptions WriteOptionsFor(KvWriteMode mode) {
  rocksdb::WriteOptions options;
  options.sync = mode == KvWriteMode::kSync;
  options.disableWAL = mode == KvWriteMode::kBulk;
  return options;
}

// Per-thread MultiGet arguments, reused so a steady-state lookup does not allocate here.
struct MultiGetScratch {
  std::vector<uint32_t> order;  // order[j]: the caller's index of the j-th smallest key
  std::vector<uint32_t> rank;   // rank[i]: where the caller's key i sits in sorted order
  std::vector<rocksdb::Slice> keys;
  std::vector<rocksdb::PinnableSlice> values;
  std::vector<rocksdb::Status> statuses;

  void Fit(size_t count) {
    if (keys.size() >= count) return;
    order.resize(count);
    rank.resize(count);
    keys.resize(count);
    values.resize(count);
    statuses.resize(count);
  }
  void Trim() {
    if (keys.size() <= kMaxRetainedScratchKeys) return;
    *this = MultiGetScratch();
  }
};

class RocksDbKvStore final : public KvStore {
 public:
  RocksDbKvStore(std::string uri, std::unique_ptr<rocksdb::DB> db)
      : uri_(std::move(uri)), db_(std::move(db)), file_options_(db_->GetOptions()) {
    // Scans are for maintenance, not the hot path: keep them from evicting hot blocks.
    scan_options_.fill_cache = false;
    memory_options_.read_tier = rocksdb::kBlockCacheTier;
    // A bulk-loaded file is written uncompressed, as flushes are: LZ4 would cost more CPU than the
    // whole rest of the load. Compaction compresses it when it rewrites the file.
    file_options_.compression = rocksdb::kNoCompression;
    file_options_.compression_per_level.clear();
    file_options_.bottommost_compression = rocksdb::kDisableCompressionOption;
  }

  ~RocksDbKvStore() override {
    // Close() flushes kBulk writes still in memtables; nobody is left to report a failure to.
    (void)db_->Close();
  }

  using KvStore::Write;

  Status Write(std::span<const KvEntry> puts, KvWriteMode mode) override {
    if (puts.empty()) return Ok();
    size_t bytes = 0;
    for (const KvEntry& entry : puts) bytes += entry.key.size() + entry.value.size() + 16;
    rocksdb::WriteBatch batch(bytes);
    for (const KvEntry& entry : puts) {
      auto status = batch.Put(ToSlice(entry.key), ToSlice(entry.value));
      if (!status.ok()) return std::unexpected(RocksError(status, uri_, "write batch"));
    }
    auto status = db_->Write(WriteOptionsFor(mode), &batch);
    if (!status.ok()) return std::unexpected(RocksError(status, uri_, "write"));
    return Ok();
  }

  using KvStore::BulkLoadSorted;

  Status BulkLoadSorted(const std::function<bool(KvEntry& entry)>& next) override {
    std::vector<std::string> files;
    Status loaded = WriteBulkFiles(next, files);
    if (loaded && !files.empty()) {
      rocksdb::IngestExternalFileOptions ingest;
      ingest.move_files = true;
      // Keys of the range still in a memtable are flushed first so the files' newer values win.
      ingest.allow_blocking_flush = true;
      auto status = db_->IngestExternalFile(files, ingest);
      if (!status.ok()) loaded = std::unexpected(RocksError(status, uri_, "ingest bulk load"));
    }
    std::error_code ignored;
    for (const auto& file : files) fs::remove(file, ignored);  // left over after a failure
    return loaded;
  }

  Status MultiGet(std::span<const std::string_view> keys, KvValues& out) override {
    FALAJ_ASSIGN_OR_RETURN(bool answered, Lookup(lookup_options_, keys, out));
    if (!answered) return MakeError(ErrorCode::kInternal, "rocksdb '{}': lookup incomplete", uri_);
    return Ok();
  }

  Result<bool> MultiGetFromMemory(std::span<const std::string_view> keys, KvValues& out) override {
    return Lookup(memory_options_, keys, out);
  }

  Status Delete(std::span<const std::string_view> keys) override {
    if (keys.empty()) return Ok();
    rocksdb::WriteBatch batch;
    for (std::string_view key : keys) {
      auto status = batch.Delete(ToSlice(key));
      if (!status.ok()) return std::unexpected(RocksError(status, uri_, "delete batch"));
    }
    auto status = db_->Write(WriteOptionsFor(KvWriteMode::kSync), &batch);
    if (!status.ok()) return std::unexpected(RocksError(status, uri_, "delete"));
    return Ok();
  }

  Result<uint64_t> DeletePrefix(std::string_view prefix) override {
    if (prefix.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "rocksdb '{}': refusing to delete the empty prefix (every key)", uri_);
    }
    // Point tombstones rather than DeleteRange: they give an exact count, and range tombstones
    // would slow every lookup until compaction removed them.
    uint64_t deleted = 0;
    const std::string upper = PrefixSuccessor(prefix);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions options = scan_options_;
    if (!upper.empty()) options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
    rocksdb::WriteBatch batch;
    size_t batched = 0;
    for (it->Seek(ToSlice(prefix)); it->Valid() && ToView(it->key()).starts_with(prefix);
         it->Next()) {
      auto status = batch.Delete(it->key());
      if (!status.ok()) return std::unexpected(RocksError(status, uri_, "delete prefix"));
      ++deleted;
      if (++batched == kDeleteBatchKeys) {
        FALAJ_RETURN_IF_ERROR(WriteDeletes(batch));
        batched = 0;
      }
    }
    if (!it->status().ok()) return std::unexpected(RocksError(it->status(), uri_, "scan prefix"));
    it.reset();
    if (batched > 0) FALAJ_RETURN_IF_ERROR(WriteDeletes(batch));
    if (deleted == 0) return deleted;

    // Tombstones only hide data: compacting the range rewrites the files that hold it, so the
    // erased bytes leave the disk (and the tombstones stop costing lookups).
    rocksdb::CompactRangeOptions compact;
    compact.exclusive_manual_compaction = false;
    compact.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
    rocksdb::Slice begin = ToSlice(prefix);
    auto status = db_->CompactRange(compact, &begin, upper.empty() ? nullptr : &upper_slice);
    if (!status.ok()) return std::unexpected(RocksError(status, uri_, "compact deleted prefix"));
    return deleted;
  }

  Status ScanPrefix(
      std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& visit) override {
    const std::string upper = PrefixSuccessor(prefix);
    rocksdb::Slice upper_slice(upper);
    rocksdb::ReadOptions options = scan_options_;
    if (!upper.empty()) options.iterate_upper_bound = &upper_slice;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options));
    for (it->Seek(ToSlice(prefix)); it->Valid() && ToView(it->key()).starts_with(prefix);
         it->Next()) {
      if (!visit(ToView(it->key()), ToView(it->value()))) return Ok();
    }
    if (!it->status().ok()) return std::unexpected(RocksError(it->status(), uri_, "scan prefix"));
    return Ok();
  }

  Status Flush() override {
    rocksdb::FlushOptions options;
    options.wait = true;
    auto status = db_->Flush(options);
    if (!status.ok()) return std::unexpected(RocksError(status, uri_, "flush"));
    return Ok();
  }

 private:
  // The status of one key's lookup: true when answered (found or absent), false when the key
  // needs I/O that `options` (read_tier) forbids.
  Result<bool> Answered(const rocksdb::Status& status, std::string_view what) {
    if (status.ok() || status.IsNotFound()) return true;
    if (status.IsIncomplete()) return false;
    return std::unexpected(RocksError(status, uri_, what));
  }

  // Looks up every key with `options`: false as soon as any key would need I/O it forbids.
  Result<bool> Lookup(const rocksdb::ReadOptions& options, std::span<const std::string_view> keys,
                      KvValues& out) {
    out.Clear();
    if (keys.empty()) return true;
    if (keys.size() == 1) return GetOne(options, keys[0], out);
    thread_local MultiGetScratch scratch;
    const size_t count = keys.size();
    scratch.Fit(count);
    // RocksDB sorts a batch before searching it, through a virtual comparator; sorting here with
    // plain byte comparison (the same order) and passing sorted_input costs about half as much,
    // some 15% of a 64-key lookup.
    for (size_t i = 0; i < count; ++i) scratch.order[i] = static_cast<uint32_t>(i);
    std::sort(scratch.order.begin(), scratch.order.begin() + count,
              [&](uint32_t a, uint32_t b) { return keys[a] < keys[b]; });
    for (size_t j = 0; j < count; ++j) {
      scratch.keys[j] = ToSlice(keys[scratch.order[j]]);
      scratch.rank[scratch.order[j]] = static_cast<uint32_t>(j);
    }
    // One call for the whole batch: RocksDB reads every key at one sequence number.
    db_->MultiGet(options, db_->DefaultColumnFamily(), count, scratch.keys.data(),
                  scratch.values.data(), scratch.statuses.data(), /*sorted_input=*/true);
    Result<bool> result = true;
    for (size_t i = 0; i < count && result && *result; ++i) {
      const size_t j = scratch.rank[i];
      result = Answered(scratch.statuses[j], "multi-get");
      if (!result || !*result) break;
      if (scratch.statuses[j].ok()) {
        out.AddFound(ToView(scratch.values[j]));
      } else {
        out.AddMissing();
      }
    }
    // Releases the cache pins, so the blocks and rows can be evicted again.
    for (size_t j = 0; j < count; ++j) scratch.values[j].Reset();
    scratch.Trim();
    return result;
  }

  // A lone key costs a third less through Get() than through MultiGet()'s batch machinery.
  Result<bool> GetOne(const rocksdb::ReadOptions& options, std::string_view key, KvValues& out) {
    thread_local rocksdb::PinnableSlice value;
    auto status = db_->Get(options, db_->DefaultColumnFamily(), ToSlice(key), &value);
    if (status.ok()) {
      out.AddFound(ToView(value));
    } else {
      out.AddMissing();
    }
    value.Reset();
    return Answered(status, "get");
  }

  // Streams the entries into table files of up to kBulkFileBytes each, named in `files` as they
  // are started. They sit in the database directory so ingestion moves them with a hard link
  // rather than a copy; RocksDB ignores (and never deletes) files whose names it does not know.
  Status WriteBulkFiles(const std::function<bool(KvEntry& entry)>& next,
                        std::vector<std::string>& files) {
    // The writer drops written pages from the OS cache as it goes. Keeping them (so the first
    // reads find them) measured a third more CPU per load: the kernel then allocates fresh pages
    // instead of recycling the ones just dropped.
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(file_options_), file_options_);
    rocksdb::Status status;
    bool open = false;
    std::string last_key;  // of the previous file: the writer checks the order within one file
    for (KvEntry entry; status.ok() && next(entry);) {
      if (open && writer.FileSize() >= kBulkFileBytes) {
        status = writer.Finish();  // fsyncs the file
        open = false;
        if (status.ok() && !(last_key < entry.key)) {
          status = rocksdb::Status::InvalidArgument("keys are not in strictly ascending order");
        }
      }
      if (!open && status.ok()) {
        files.push_back(fmt::format("{}/falaj-bulk-{}.sst.tmp", db_->GetName(),
                                    bulk_files_.fetch_add(1, std::memory_order_relaxed)));
        status = writer.Open(files.back());
        open = status.ok();
      }
      // Rejects a key not above the one before it (InvalidArgument).
      if (status.ok()) status = writer.Put(ToSlice(entry.key), ToSlice(entry.value));
      last_key.assign(entry.key);
    }
    if (open && status.ok()) status = writer.Finish();
    if (!status.ok()) return std::unexpected(RocksError(status, uri_, "write bulk-load file"));
    return Ok();
  }

  Status WriteDeletes(rocksdb::WriteBatch& batch) {
    auto status = db_->Write(WriteOptionsFor(KvWriteMode::kSync), &batch);
    batch.Clear();
    if (!status.ok()) return std::unexpected(RocksError(status, uri_, "delete prefix"));
    return Ok();
  }

  const std::string uri_;
  const std::unique_ptr<rocksdb::DB> db_;
  rocksdb::Options file_options_;  // the database's options, for bulk-load files
  std::atomic<uint64_t> bulk_files_{0};
  rocksdb::ReadOptions lookup_options_;
  rocksdb::ReadOptions memory_options_;  // lookups that may not read files
  rocksdb::ReadOptions scan_options_;
};

}  // namespace

Result<std::unique_ptr<KvStore>> OpenRocksDbKvStore(std::string_view uri) {
  FALAJ_ASSIGN_OR_RETURN(RocksDbUri parsed, ParseRocksDbUri(uri));
  std::error_code error;
  fs::create_directories(parsed.path, error);
  if (error) {
    return MakeError(ErrorCode::kUnavailable, "rocksdb '{}': cannot create directory '{}': {}", uri,
                     parsed.path, error.message());
  }
  rocksdb::DB* raw = nullptr;
  auto status = rocksdb::DB::Open(MakeOptions(parsed), parsed.path, &raw);
  std::unique_ptr<rocksdb::DB> db(raw);
  if (!status.ok()) {
    // RocksDB reports a held LOCK file as a generic I/O error; say what it means.
    if (status.IsIOError() && status.ToString().find("lock") != std::string::npos) {
      return MakeError(ErrorCode::kUnavailable,
                       "rocksdb '{}': directory is in use by another process or open store: {}",
                       uri, status.ToString());
    }
    return std::unexpected(RocksError(status, uri, "open"));
  }
  return std::make_unique<RocksDbKvStore>(std::string(uri), std::move(db));
}

}  // namespace falaj::storage
