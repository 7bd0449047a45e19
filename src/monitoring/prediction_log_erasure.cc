// PredictionLog's deletions: an entity's records (data-subject erasure), expired segments
// (retention) and an endpoint's whole log (purge). All hold the files lock exclusively, so the
// writer appends to fresh segments afterwards.
#include <filesystem>

#include "monitoring/prediction_log.h"
#include "monitoring/segment_format.h"

namespace falaj::monitoring {
namespace {

// The endpoint whose segment this is ("<endpoint directory>/<day>-<seq>.seg").
std::string EndpointOf(const std::string& segment) {
  std::string directory = segment.substr(0, segment.find('/'));
  return directory == SegmentFiles::EndpointDirectory("") ? "" : directory;
}

// Whether the record names the entity: a unit key equal to one of its values, or entity keys
// holding all of its keys with equal values in one row.
bool MatchesEntity(const serving::PredictionRecord& record,
                   const std::vector<std::pair<std::string, std::string>>& keys) {
  for (const auto& [name, value] : keys) {
    if (!record.unit_key.empty() && record.unit_key == value) return true;
  }
  const size_t width = record.entity_key_names.size();
  if (width == 0) return false;
  std::vector<size_t> columns;
  for (const auto& [name, value] : keys) {
    size_t column = 0;
    while (column < width && record.entity_key_names[column] != name) ++column;
    if (column == width) return false;
    columns.push_back(column);
  }
  for (size_t row = 0; (row + 1) * width <= record.entity_key_values.size(); ++row) {
    bool all = true;
    for (size_t i = 0; i < keys.size() && all; ++i) {
      all = record.entity_key_values[row * width + columns[i]] == keys[i].second;
    }
    if (all) return true;
  }
  return false;
}

}  // namespace

Status PredictionLog::EraseFromSegment(const std::string& project, const std::string& segment,
                                       const std::vector<std::pair<std::string, std::string>>& keys,
                                       LogErasure& erasure) {
  const std::string endpoint = EndpointOf(segment);
  const std::string path = files_.Path(project, segment);
  FALAJ_ASSIGN_OR_RETURN(auto reader, SegmentReader::Open(path));
  std::vector<std::string> payloads;
  std::vector<std::vector<serving::PredictionRecord>> kept;
  size_t removed = 0;
  for (;;) {
    FALAJ_ASSIGN_OR_RETURN(auto frame, reader.Next());
    if (!frame) break;  // a torn tail goes too: nothing after it was ever readable
    FALAJ_ASSIGN_OR_RETURN(auto records, Open(project, endpoint, frame->payload));
    const size_t before = records.size();
    std::erase_if(records, [&](const serving::PredictionRecord& record) {
      if (!MatchesEntity(record, keys)) return false;
      erasure.request_ids.push_back(record.request_id);
      return true;
    });
    removed += before - records.size();
    if (records.empty()) continue;
    if (records.size() == before) {
      payloads.push_back(std::move(frame->payload));
    } else {
      BeginChunk(chunk_);
      for (size_t i = 0; i < records.size(); ++i) {
        AddToChunk(chunk_, records[i], i == 0 ? nullptr : &records[i - 1]);
      }
      FinishChunk(chunk_, static_cast<uint32_t>(records.size()));
      FALAJ_ASSIGN_OR_RETURN(auto sealed, Seal(project, endpoint, chunk_));
      payloads.push_back(std::move(sealed));
    }
    kept.push_back(std::move(records));
  }
  if (removed == 0) return Ok();
  FALAJ_ASSIGN_OR_RETURN(auto offsets, RewriteSegment(path, payloads));
  std::vector<BlockRow> blocks;
  std::vector<KeyRow> index_keys;
  for (size_t frame = 0; frame < kept.size(); ++frame) {
    const auto& records = kept[frame];
    BlockRow block{project,
                   endpoint,
                   segment,
                   offsets[frame],
                   static_cast<uint32_t>(records.size()),
                   records.front().timestamp_ms,
                   records.front().timestamp_ms};
    for (uint32_t item = 0; item < records.size(); ++item) {
      const auto& record = records[item];
      block.min_timestamp_ms = std::min(block.min_timestamp_ms, record.timestamp_ms);
      block.max_timestamp_ms = std::max(block.max_timestamp_ms, record.timestamp_ms);
      if (record.request_id.empty() && record.unit_key.empty()) continue;
      index_keys.push_back({project,
                            endpoint,
                            record.request_id,
                            record.unit_key,
                            record.timestamp_ms,
                            record.shadow,
                            {segment, offsets[frame], item}});
    }
    blocks.push_back(std::move(block));
  }
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_RETURN_IF_ERROR(DeleteSegmentRows(tx, project, endpoint, segment));
        return InsertIndexRows(tx, blocks, index_keys);
      }));
  erasure.records_removed += static_cast<int64_t>(removed);
  erasure.segments_rewritten.push_back(segment);
  return Ok();
}

Result<LogErasure> PredictionLog::Erase(
    std::string_view project, const std::vector<std::pair<std::string, std::string>>& keys) {
  LogErasure erasure;
  const std::string name(project);
  std::unique_lock lock(files_mutex_);
  FALAJ_RETURN_IF_ERROR(files_.Close(project));
  FALAJ_ASSIGN_OR_RETURN(auto segments, files_.List(project));
  for (const auto& segment : segments) {
    FALAJ_RETURN_IF_ERROR(EraseFromSegment(name, segment, keys, erasure));
  }
  return erasure;
}

Status PredictionLog::DeleteSegment(const std::string& project, const std::string& segment) {
  FALAJ_RETURN_IF_ERROR(files_.Close(project));
  FALAJ_RETURN_IF_ERROR(
      store_.RunTransaction(storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) {
        return DeleteSegmentRows(tx, project, EndpointOf(segment), segment);
      }));
  const std::string path = files_.Path(project, segment);
  std::error_code error;
  std::filesystem::remove(path, error);
  if (error) {
    return MakeError(ErrorCode::kInternal, "cannot delete prediction log segment '{}': {}", path,
                     error.message());
  }
  return Ok();
}

Result<int64_t> PredictionLog::ApplyRetention() {
  int64_t deleted = 0;
  std::unique_lock lock(files_mutex_);
  for (const auto& project : files_.Projects()) {
    // The project's policy decides when it has one (0 days: purge all but today's segments);
    // otherwise the log's default, where 0 means keep.
    std::optional<int64_t> days;
    if (options_.retention_days > 0) days = options_.retention_days;
    if (options_.project_retention_days) {
      FALAJ_ASSIGN_OR_RETURN(auto own, options_.project_retention_days(project));
      if (own) days = own;
    }
    if (!days) continue;
    const std::string cutoff_day =
        SegmentFiles::Day(ToUnixMillis(clock_.Now()) - *days * 24 * 3600 * int64_t{1000});
    FALAJ_ASSIGN_OR_RETURN(auto segments, files_.List(project));
    for (const auto& segment : segments) {
      const std::string day = segment.substr(segment.find('/') + 1, 8);
      if (day >= cutoff_day) continue;
      FALAJ_RETURN_IF_ERROR(DeleteSegment(project, segment));
      ++deleted;
    }
  }
  return deleted;
}

Result<LogPurge> PredictionLog::Purge(std::string_view project, std::string_view endpoint) {
  // Flushed outside the files lock, which the writer needs to drain the queue.
  Flush();
  const std::string name(project);
  const std::string endpoint_name(endpoint);
  LogPurge purge;
  std::unique_lock lock(files_mutex_);
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(purge.records, CountRecords(tx, name, endpoint_name));
        return Ok();
      }));
  FALAJ_ASSIGN_OR_RETURN(auto segments, files_.List(project, &endpoint_name));
  for (const auto& segment : segments) {
    FALAJ_RETURN_IF_ERROR(DeleteSegment(name, segment));
    ++purge.segments;
  }
  // A project re-created under the same name may be in another region: the writer looks it up
  // again rather than sealing under a cached one.
  regions_.erase(name);
  context_.object.clear();
  // Empty directories go too (remove() leaves a non-empty one), so nothing of the endpoint or
  // of a fully purged project stays under the log's root.
  std::error_code ignored;
  std::filesystem::remove(
      files_.ProjectDirectory(project) + "/" + SegmentFiles::EndpointDirectory(endpoint), ignored);
  std::filesystem::remove(files_.ProjectDirectory(project), ignored);
  return purge;
}

Result<int64_t> PredictionLog::CountInProject(storage::Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT CAST(COALESCE(SUM(records), 0) AS BIGINT) "
                                             "FROM prediction_log_blocks WHERE project = ?",
                                             {std::string(project)}));
  return rows.at(0).Int(0);
}

}  // namespace falaj::monitoring
