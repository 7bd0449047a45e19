#include "monitoring/prediction_index.h"

#include <fmt/format.h>

#include <algorithm>

namespace falaj::monitoring {
namespace {

// Many rows per statement: one parse per row dominated the writer's profile.
constexpr size_t kRowsPerStatement = 200;

template <typename Row>
Status InsertMany(storage::Transaction& tx, std::string_view head, size_t columns,
                  const std::vector<Row>& rows,
                  void (*params_of)(const Row&, std::vector<storage::SqlValue>&)) {
  std::string tuple = "(?";
  for (size_t i = 1; i < columns; ++i) tuple += ", ?";
  tuple += ")";
  for (size_t first = 0; first < rows.size(); first += kRowsPerStatement) {
    const size_t count = std::min(kRowsPerStatement, rows.size() - first);
    std::string sql(head);
    std::vector<storage::SqlValue> params;
    params.reserve(count * columns);
    for (size_t i = first; i < first + count; ++i) {
      sql += i == first ? " " : ", ";
      sql += tuple;
      params_of(rows[i], params);
    }
    FALAJ_RETURN_IF_ERROR(tx.Run(sql, params));
  }
  return Ok();
}

std::vector<RecordRef> Refs(const storage::Rows& rows) {
  std::vector<RecordRef> refs;
  refs.reserve(rows.size());
  for (const auto& row : rows) {
    refs.push_back(
        {row.Text(0), static_cast<uint64_t>(row.Int(1)), static_cast<uint32_t>(row.Int(2))});
  }
  return refs;
}

}  // namespace

const storage::MigrationSet& PredictionIndexMigrations() {
  static const storage::MigrationSet kSet{
      "prediction_log",
      {{1, "create the prediction log index",
        // The partial indexes cover only rows that have the key; queries repeat the condition so
        // that SQLite and PostgreSQL both use them.
        "CREATE TABLE prediction_log_blocks (project TEXT NOT NULL, endpoint TEXT NOT NULL, "
        "segment TEXT NOT NULL, frame_offset BIGINT NOT NULL, records BIGINT NOT NULL, "
        "min_timestamp_ms BIGINT NOT NULL, max_timestamp_ms BIGINT NOT NULL, "
        "PRIMARY KEY (project, endpoint, segment, frame_offset));"
        "CREATE TABLE prediction_log_keys (project TEXT NOT NULL, endpoint TEXT NOT NULL, "
        "request_id TEXT NOT NULL, unit_key TEXT NOT NULL, timestamp_ms BIGINT NOT NULL, "
        "shadow INTEGER NOT NULL, segment TEXT NOT NULL, frame_offset BIGINT NOT NULL, "
        "item INTEGER NOT NULL);"
        "CREATE INDEX prediction_log_keys_by_request ON prediction_log_keys "
        "(project, endpoint, request_id) WHERE request_id <> '';"
        "CREATE INDEX prediction_log_keys_by_unit ON prediction_log_keys "
        "(project, endpoint, unit_key, timestamp_ms) WHERE unit_key <> ''"}}};
  return kSet;
}

Status InsertIndexRows(storage::Transaction& tx, const std::vector<BlockRow>& blocks,
                       const std::vector<KeyRow>& keys) {
  FALAJ_RETURN_IF_ERROR(InsertMany<BlockRow>(
      tx,
      "INSERT INTO prediction_log_blocks (project, endpoint, segment, frame_offset, records, "
      "min_timestamp_ms, max_timestamp_ms) VALUES",
      7, blocks, [](const BlockRow& row, std::vector<storage::SqlValue>& params) {
        params.insert(params.end(),
                      {row.project, row.endpoint, row.segment, static_cast<int64_t>(row.offset),
                       int64_t{row.records}, row.min_timestamp_ms, row.max_timestamp_ms});
      }));
  return InsertMany<KeyRow>(
      tx,
      "INSERT INTO prediction_log_keys (project, endpoint, request_id, unit_key, timestamp_ms, "
      "shadow, segment, frame_offset, item) VALUES",
      9, keys, [](const KeyRow& row, std::vector<storage::SqlValue>& params) {
        params.insert(params.end(), {row.project, row.endpoint, row.request_id, row.unit_key,
                                     row.timestamp_ms, int64_t{row.shadow ? 1 : 0}, row.ref.segment,
                                     static_cast<int64_t>(row.ref.offset), int64_t{row.ref.item}});
      });
}

Status DeleteSegmentRows(storage::Transaction& tx, const std::string& project,
                         const std::string& endpoint, const std::string& segment) {
  for (const char* table : {"prediction_log_blocks", "prediction_log_keys"}) {
    FALAJ_RETURN_IF_ERROR(tx.Run(
        fmt::format("DELETE FROM {} WHERE project = ? AND endpoint = ? AND segment = ?", table),
        {project, endpoint, segment}));
  }
  return Ok();
}

Result<std::vector<RecordRef>> FindKeys(storage::Transaction& tx, const std::string& project,
                                        const std::string& endpoint, const std::string& column,
                                        const std::string& value, const RecordRef* after,
                                        size_t limit) {
  std::string sql = fmt::format(
      "SELECT segment, frame_offset, item FROM prediction_log_keys WHERE project = ? AND "
      "endpoint = ? AND {0} <> '' AND {0} = ?",
      column);
  std::vector<storage::SqlValue> params = {project, endpoint, value};
  if (after != nullptr) {
    sql +=
        " AND (segment > ? OR (segment = ? AND (frame_offset > ? OR (frame_offset = ? AND item > "
        "?))))";
    const auto offset = static_cast<int64_t>(after->offset);
    params.insert(params.end(),
                  {after->segment, after->segment, offset, offset, int64_t{after->item}});
  }
  sql += fmt::format(" ORDER BY segment, frame_offset, item LIMIT {}", limit);
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query(sql, params));
  return Refs(rows);
}

Result<std::vector<RecordRef>> LatestOfUnit(storage::Transaction& tx, const std::string& project,
                                            const std::string& endpoint,
                                            const std::string& unit_key, int64_t at_ms) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows,
      tx.Query("SELECT segment, frame_offset, item FROM prediction_log_keys WHERE project = ? AND "
               "endpoint = ? AND unit_key <> '' AND unit_key = ? AND shadow = 0 AND "
               "timestamp_ms <= ? ORDER BY timestamp_ms DESC, segment DESC, frame_offset DESC, "
               "item DESC LIMIT 1",
               {project, endpoint, unit_key, at_ms}));
  return Refs(rows);
}

Result<std::vector<RecordRef>> LatestOfRequest(storage::Transaction& tx, const std::string& project,
                                               const std::string& endpoint,
                                               const std::string& request_id) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows,
      tx.Query("SELECT segment, frame_offset, item FROM prediction_log_keys WHERE project = ? AND "
               "endpoint = ? AND request_id <> '' AND request_id = ? ORDER BY shadow, "
               "timestamp_ms DESC LIMIT 1",
               {project, endpoint, request_id}));
  return Refs(rows);
}

Result<std::vector<RecordRef>> FindBlocks(storage::Transaction& tx, const std::string& project,
                                          const std::string& endpoint, int64_t since_ms,
                                          const RecordRef* after, size_t limit) {
  std::string sql =
      "SELECT segment, frame_offset, 0 FROM prediction_log_blocks WHERE project = ? AND "
      "endpoint = ? AND max_timestamp_ms >= ?";
  std::vector<storage::SqlValue> params = {project, endpoint, since_ms};
  if (after != nullptr) {
    sql += " AND (segment > ? OR (segment = ? AND frame_offset >= ?))";
    params.insert(params.end(),
                  {after->segment, after->segment, static_cast<int64_t>(after->offset)});
  }
  sql += fmt::format(" ORDER BY segment, frame_offset LIMIT {}", limit);
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query(sql, params));
  return Refs(rows);
}

Result<int64_t> CountRecords(storage::Transaction& tx, const std::string& project,
                             const std::string& endpoint) {
  FALAJ_ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT CAST(COALESCE(SUM(records), 0) AS BIGINT) FROM "
                                  "prediction_log_blocks WHERE project = ? AND "
                                  "endpoint = ?",
                                  {project, endpoint}));
  return rows.at(0).Int(0);
}

}  // namespace falaj::monitoring
