// Where the prediction log's records are, in the MetadataStore: one block row per frame (a
// writer batch's chunk for one endpoint: its segment, offset, record count and time range), for
// listing by time without reading segments that cannot match; and one key row per record that has
// a request id or a unit key (its frame and position in it), so joining an outcome is an index
// lookup, not a scan. Records with neither cost no per-record row.
//
// Thread-safety: stateless; the functions run inside the caller's transaction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "storage/metadata_store.h"

namespace falaj::monitoring {

// A record's place: the frame (segment, offset) and its position in the frame's chunk.
struct RecordRef {
  std::string segment;
  uint64_t offset = 0;
  uint32_t item = 0;
};

struct BlockRow {
  std::string project;
  std::string endpoint;
  std::string segment;
  uint64_t offset = 0;
  uint32_t records = 0;
  int64_t min_timestamp_ms = 0;
  int64_t max_timestamp_ms = 0;
};

struct KeyRow {
  std::string project;
  std::string endpoint;
  std::string request_id;
  std::string unit_key;
  int64_t timestamp_ms = 0;
  bool shadow = false;
  RecordRef ref;
};

const storage::MigrationSet& PredictionIndexMigrations();

Status InsertIndexRows(storage::Transaction& tx, const std::vector<BlockRow>& blocks,
                       const std::vector<KeyRow>& keys);
Status DeleteSegmentRows(storage::Transaction& tx, const std::string& project,
                         const std::string& endpoint, const std::string& segment);

// Key rows of a request id (non-shadow first, newest first) or of a unit key at or before
// `at_ms` (newest first); at most `limit`, after `after` in (segment, offset, item) order when
// `after` is given (then oldest first).
Result<std::vector<RecordRef>> FindKeys(storage::Transaction& tx, const std::string& project,
                                        const std::string& endpoint, const std::string& column,
                                        const std::string& value, const RecordRef* after,
                                        size_t limit);
Result<std::vector<RecordRef>> LatestOfUnit(storage::Transaction& tx, const std::string& project,
                                            const std::string& endpoint,
                                            const std::string& unit_key, int64_t at_ms);
Result<std::vector<RecordRef>> LatestOfRequest(storage::Transaction& tx, const std::string& project,
                                               const std::string& endpoint,
                                               const std::string& request_id);
// Blocks (as refs with item 0) holding records at or after `since_ms`, from the one of `after`
// on, in (segment, offset) order; at most `limit`.
Result<std::vector<RecordRef>> FindBlocks(storage::Transaction& tx, const std::string& project,
                                          const std::string& endpoint, int64_t since_ms,
                                          const RecordRef* after, size_t limit);
Result<int64_t> CountRecords(storage::Transaction& tx, const std::string& project,
                             const std::string& endpoint);

}  // namespace falaj::monitoring
