// Logging on runs: batches of metrics, params and tags (one transaction each), tag deletion and
// metric history.
#include <algorithm>
#include <map>
#include <span>

#include "tracking/run_rows.h"
#include "tracking/tracking_store.h"
#include "tracking/tracking_validation.h"

namespace falaj::tracking {
namespace {

Status ValidateBatch(const Batch& batch) {
  if (batch.metrics.size() > kMaxBatchMetrics || batch.params.size() > kMaxBatchParams ||
      batch.tags.size() > kMaxBatchTags) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a batch may hold at most {} metrics, {} params and {} tags; this one has "
                     "{}, {} and {}",
                     kMaxBatchMetrics, kMaxBatchParams, kMaxBatchTags, batch.metrics.size(),
                     batch.params.size(), batch.tags.size());
  }
  for (const auto& metric : batch.metrics) FALAJ_RETURN_IF_ERROR(ValidateKey("metric", metric.key));
  std::map<std::string_view, std::string_view> params;
  for (const auto& [key, value] : batch.params) {
    FALAJ_RETURN_IF_ERROR(ValidateKey("param", key));
    if (value.size() > kMaxParamValueBytes) {
      return MakeError(ErrorCode::kInvalidArgument, "value of param '{}' is longer than {} bytes",
                       key, kMaxParamValueBytes);
    }
    auto [found, inserted] = params.emplace(key, value);
    if (!inserted && found->second != value) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "param '{}' appears twice in the batch with different values", key);
    }
  }
  for (const auto& [key, value] : batch.tags) {
    FALAJ_RETURN_IF_ERROR(ValidateTag(key, value, kMaxTagValueBytes));
  }
  return Ok();
}

// MLflow's notion of "latest": the highest step, then the newest timestamp; later logging wins
// ties.
bool AtLeastAsLate(const MetricPoint& point, int64_t step, int64_t timestamp_ms) {
  return point.step > step || (point.step == step && point.timestamp_ms >= timestamp_ms);
}

Status WriteParams(storage::Transaction& tx, const std::string& run_id, const Batch& batch) {
  for (const auto& [key, value] : batch.params) {
    FALAJ_ASSIGN_OR_RETURN(
        auto existing,
        tx.Query("SELECT value FROM tracking_params WHERE run_id = ? AND key = ?", {run_id, key}));
    if (existing.empty()) {
      FALAJ_RETURN_IF_ERROR(
          tx.Run("INSERT INTO tracking_params (run_id, key, value) VALUES (?, ?, ?)",
                 {run_id, key, value}));
    } else if (existing[0].Text(0) != value) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "param '{}' of run '{}' is already '{}'; params are write-once and cannot "
                       "change to '{}'",
                       key, run_id, existing[0].Text(0).substr(0, 200), value.substr(0, 200));
    }
  }
  return Ok();
}

Status WriteTags(storage::Transaction& tx, const std::string& run_id, const Batch& batch) {
  for (const auto& [key, value] : batch.tags) {
    FALAJ_RETURN_IF_ERROR(
        tx.Run("DELETE FROM tracking_tags WHERE run_id = ? AND key = ?", {run_id, key}));
    FALAJ_RETURN_IF_ERROR(tx.Run("INSERT INTO tracking_tags (run_id, key, value) VALUES (?, ?, ?)",
                                 {run_id, key, value}));
  }
  return Ok();
}

// Points per INSERT: one statement per hundred points instead of one per point, well below every
// backend's limit on bound parameters (6 per point).
constexpr size_t kPointsPerInsert = 100;

Status InsertPoints(storage::Transaction& tx, const std::string& run_id, int64_t first_seq,
                    std::span<const MetricPoint> points) {
  std::string sql =
      "INSERT INTO tracking_metrics (run_id, key, seq, step, timestamp_ms, value) VALUES ";
  std::vector<storage::SqlValue> values;
  values.reserve(points.size() * 6);
  int64_t seq = first_seq;
  for (const auto& point : points) {
    sql += seq == first_seq ? "(?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?)";
    values.insert(values.end(), {run_id, point.key, seq++, point.step, point.timestamp_ms,
                                 MetricValue(point.value)});
  }
  return tx.Run(sql, values);
}

Status WriteMetrics(storage::Transaction& tx, const std::string& run_id, int64_t first_seq,
                    const Batch& batch) {
  std::span<const MetricPoint> points(batch.metrics);
  for (size_t first = 0; first < points.size(); first += kPointsPerInsert) {
    auto chunk = points.subspan(first, std::min(kPointsPerInsert, points.size() - first));
    FALAJ_RETURN_IF_ERROR(InsertPoints(tx, run_id, first_seq + static_cast<int64_t>(first), chunk));
  }
  int64_t seq = first_seq + static_cast<int64_t>(points.size());
  std::map<std::string_view, const MetricPoint*> latest;
  for (const auto& metric : batch.metrics) {
    auto [found, inserted] = latest.emplace(metric.key, &metric);
    if (!inserted && AtLeastAsLate(metric, found->second->step, found->second->timestamp_ms)) {
      found->second = &metric;
    }
  }
  for (const auto& [key, metric] : latest) {
    FALAJ_ASSIGN_OR_RETURN(auto stored, tx.Query("SELECT step, timestamp_ms FROM "
                                                 "tracking_latest_metrics WHERE run_id = ? AND "
                                                 "key = ?",
                                                 {run_id, metric->key}));
    if (!stored.empty() && !AtLeastAsLate(*metric, stored[0].Int(0), stored[0].Int(1))) continue;
    FALAJ_RETURN_IF_ERROR(tx.Run("DELETE FROM tracking_latest_metrics WHERE run_id = ? AND key = ?",
                                 {run_id, metric->key}));
    FALAJ_RETURN_IF_ERROR(tx.Run(
        "INSERT INTO tracking_latest_metrics (run_id, key, step, timestamp_ms, value) VALUES (?, "
        "?, ?, ?, ?)",
        {run_id, metric->key, metric->step, metric->timestamp_ms, MetricValue(metric->value)}));
  }
  return tx.Run("UPDATE tracking_runs SET metric_seq = ? WHERE run_id = ?", {seq, run_id});
}

// The run's next metric sequence number; FAILED_PRECONDITION unless the run is active.
Result<int64_t> ActiveRunSeq(storage::Transaction& tx, std::string_view project,
                             const std::string& run_id) {
  FALAJ_RETURN_IF_ERROR(ValidateRunId(run_id));
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT lifecycle, metric_seq FROM tracking_runs "
                                             "WHERE run_id = ? AND project = ?",
                                             {run_id, std::string(project)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "run '{}' does not exist", run_id);
  if (rows[0].Text(0) != "active") {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "run '{}' is deleted; restore it before logging to it", run_id);
  }
  return rows[0].Int(1);
}

}  // namespace

Status TrackingStore::LogBatch(std::string_view project, std::string_view run_id,
                               const Batch& batch) {
  FALAJ_RETURN_IF_ERROR(ValidateBatch(batch));
  std::string id(run_id);
  return store_.RunTransaction(storage::TransactionMode::kReadWrite,
                               [&](storage::Transaction& tx) -> Status {
                                 FALAJ_ASSIGN_OR_RETURN(int64_t seq, ActiveRunSeq(tx, project, id));
                                 FALAJ_RETURN_IF_ERROR(WriteParams(tx, id, batch));
                                 FALAJ_RETURN_IF_ERROR(WriteTags(tx, id, batch));
                                 if (batch.metrics.empty()) return Ok();
                                 return WriteMetrics(tx, id, seq + 1, batch);
                               });
}

Status TrackingStore::DeleteTag(std::string_view project, std::string_view run_id,
                                std::string_view key) {
  std::string id(run_id);
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_RETURN_IF_ERROR(ActiveRunSeq(tx, project, id));
        FALAJ_ASSIGN_OR_RETURN(auto deleted,
                               tx.Execute("DELETE FROM tracking_tags WHERE run_id = ? AND key = ?",
                                          {id, std::string(key)}));
        if (deleted == 0) {
          return MakeError(ErrorCode::kNotFound, "run '{}' has no tag '{}'", id,
                           key.substr(0, 120));
        }
        return Ok();
      });
}

Result<MetricHistoryPage> TrackingStore::MetricHistory(std::string_view project,
                                                       std::string_view run_id,
                                                       std::string_view key, size_t max_results,
                                                       std::string_view page_token) {
  FALAJ_RETURN_IF_ERROR(ValidateRunId(run_id));
  FALAJ_ASSIGN_OR_RETURN(size_t offset, DecodePageToken(page_token));
  if (max_results == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "max_results must be at least 1");
  }
  MetricHistoryPage page;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto runs,
                               tx.Query("SELECT 1 FROM tracking_runs WHERE run_id = ? AND "
                                        "project = ?",
                                        {std::string(run_id), std::string(project)}));
        if (runs.empty()) {
          return MakeError(ErrorCode::kNotFound, "run '{}' does not exist", run_id);
        }
        // One row more than the page tells whether another page follows.
        FALAJ_ASSIGN_OR_RETURN(
            auto rows,
            tx.Query("SELECT value, timestamp_ms, step FROM tracking_metrics WHERE run_id = ? AND "
                     "key = ? ORDER BY step, timestamp_ms, seq LIMIT ? OFFSET ?",
                     {std::string(run_id), std::string(key), static_cast<int64_t>(max_results + 1),
                      static_cast<int64_t>(offset)}));
        for (size_t i = 0; i < rows.size() && i < max_results; ++i) {
          page.metrics.push_back(
              {std::string(key), MetricValueFromRow(rows[i], 0), rows[i].Int(1), rows[i].Int(2)});
        }
        if (rows.size() > max_results) page.next_page_token = EncodePageToken(offset + max_results);
        return Ok();
      }));
  return page;
}

}  // namespace falaj::tracking
