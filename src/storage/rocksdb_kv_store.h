// The rocksdb:// KvStore backend: an embedded RocksDB database in one directory, tuned for point
// lookups (whole-key bloom filters, hash-indexed data blocks, a block cache and a row cache), for
// big batched writes, and for bulk loads written as table files and ingested (BulkLoadSorted). The
// URI is "rocksdb:///abs/dir" or "rocksdb://relative/dir" (resolved against the working directory
// once, at open), with options "block_cache_mb=N" (default 256) and "row_cache_mb=N" (default 256;
// 0 turns the row cache off), e.g. "rocksdb:///d?row_cache_mb=1024". Cache memory is bounded by
// their sum, plus memtables (up to 4 x 64 MB) and each file's index and filter blocks (about 1.5%
// of the data).
//
// One store per directory at a time: RocksDB's LOCK file refuses a second opener, in this process
// or another, and the open fails with UNAVAILABLE.
//
// Thread-safe as KvStore promises: rocksdb::DB is, MultiGet's scratch buffers are per thread, and
// concurrent bulk loads write files of their own.
#pragma once

#include <memory>
#include <string_view>

#include "common/result.h"
#include "storage/kv_store.h"

namespace falaj::storage {

// Opens (creating if missing, with parent directories) the store at a rocksdb:// URI.
// OpenKvStore() reaches this through the scheme registry, where "rocksdb" is always present.
Result<std::unique_ptr<KvStore>> OpenRocksDbKvStore(std::string_view uri);

}  // namespace falaj::storage
