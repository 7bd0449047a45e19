#include "monitoring/prediction_log.h"

#include <charconv>
#include <filesystem>
#include <random>

#include "common/logging.h"
#include "monitoring/segment_format.h"

namespace falaj::monitoring {
namespace {

constexpr size_t kBatchLimit = 4096;
constexpr std::string_view kIndexColumns = "segment, frame_offset, endpoint";

std::string ObjectName(std::string_view project, std::string_view endpoint) {
  return fmt::format("prediction-log/{}/{}", project, SegmentFiles::EndpointDirectory(endpoint));
}

// A cheap per-thread generator for sampling: no lock, no syscall, good enough for a coin flip.
double UnitRandom() {
  thread_local uint64_t state = std::random_device{}() | 1;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<double>(state >> 11) * 0x1.0p-53;
}

// Cursor "<timestamp_ms>:<offset>:<segment>" of the last item of a page.
std::string Cursor(const LoggedPrediction& item) {
  return fmt::format("{}:{}:{}", item.record.timestamp_ms, item.offset, item.segment);
}

Result<std::tuple<int64_t, int64_t, std::string>> ParseCursor(std::string_view cursor) {
  const size_t first = cursor.find(':');
  const size_t second = first == std::string_view::npos ? first : cursor.find(':', first + 1);
  int64_t timestamp = 0;
  int64_t offset = 0;
  if (second == std::string_view::npos ||
      std::from_chars(cursor.data(), cursor.data() + first, timestamp).ec != std::errc() ||
      std::from_chars(cursor.data() + first + 1, cursor.data() + second, offset).ec !=
          std::errc()) {
    return MakeError(ErrorCode::kInvalidArgument, "malformed page cursor 'after': '{}'", cursor);
  }
  return std::make_tuple(timestamp, offset, std::string(cursor.substr(second + 1)));
}

// The endpoint whose segment this is ("<endpoint directory>/<day>-<seq>.seg").
std::string EndpointOf(const std::string& segment) {
  std::string directory = segment.substr(0, segment.find('/'));
  return directory == SegmentFiles::EndpointDirectory("") ? "" : directory;
}

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

struct PredictionLog::IndexEntry {
  std::string project;
  std::string endpoint;
  FrameLocation location;
  std::string request_id;
  std::string unit_key;
  int64_t timestamp_ms;
  bool shadow;
};

const storage::MigrationSet& PredictionLog::Migrations() {
  static const storage::MigrationSet kSet{
      "prediction_log",
      {{1, "create the prediction log index",
        // One row per record. The partial indexes cost nothing for records without a request id
        // or unit key; queries repeat their condition so that both SQLite and PostgreSQL use them.
        "CREATE TABLE prediction_log_index (project TEXT NOT NULL, endpoint TEXT NOT NULL, "
        "segment TEXT NOT NULL, frame_offset BIGINT NOT NULL, request_id TEXT NOT NULL, "
        "unit_key TEXT NOT NULL, timestamp_ms BIGINT NOT NULL, shadow INTEGER NOT NULL);"
        "CREATE INDEX prediction_log_by_time ON prediction_log_index "
        "(project, endpoint, timestamp_ms, segment, frame_offset);"
        "CREATE INDEX prediction_log_by_request ON prediction_log_index "
        "(project, endpoint, request_id) WHERE request_id <> '';"
        "CREATE INDEX prediction_log_by_unit ON prediction_log_index "
        "(project, endpoint, unit_key, timestamp_ms) WHERE unit_key <> ''"}}};
  return kSet;
}

PredictionLog::PredictionLog(storage::MetadataStore& store, metrics::Registry& metrics,
                             PredictionLogOptions options, const Clock& clock)
    : store_(store),
      options_(std::move(options)),
      clock_(clock),
      queue_(options_.queue_capacity),
      written_metric_(metrics
                          .AddCounter("falaj_prediction_log_written_total",
                                      "Predictions written durably to the prediction log.", {})
                          .WithLabels({})),
      dropped_metric_(metrics
                          .AddCounter("falaj_prediction_log_dropped_total",
                                      "Sampled predictions dropped because the log's queue was "
                                      "full.",
                                      {})
                          .WithLabels({})),
      bytes_metric_(metrics
                        .AddCounter("falaj_prediction_log_bytes_total",
                                    "Bytes appended to prediction log segments.", {})
                        .WithLabels({})),
      failed_metric_(metrics
                         .AddCounter("falaj_prediction_log_failed_total",
                                     "Predictions lost to prediction log write errors.", {})
                         .WithLabels({})),
      files_(options_.directory, options_.segment_bytes) {}

PredictionLog::~PredictionLog() { Stop(); }

void PredictionLog::Start() {
  if (!writer_.joinable()) writer_ = std::thread([this] { WriterLoop(); });
}

void PredictionLog::Stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (writer_.joinable()) writer_.join();
}

bool PredictionLog::Sample(std::string_view project, std::string_view endpoint) noexcept {
  double rate = options_.sample_rate;
  if (!options_.endpoint_sample_rates.empty()) {
    char key[300];
    const auto end = fmt::format_to_n(key, sizeof(key), "{}/{}", project, endpoint);
    auto found = options_.endpoint_sample_rates.find(std::string_view(key, end.size));
    if (end.size <= sizeof(key) && found != options_.endpoint_sample_rates.end()) {
      rate = found->second;
    }
  }
  if (rate >= 1.0) return true;
  if (rate <= 0.0) return false;
  return UnitRandom() < rate;
}

void PredictionLog::Offer(serving::PredictionRecord&& record) noexcept {
  if (queue_.TryPush(record)) {
    offered_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  dropped_.fetch_add(1, std::memory_order_relaxed);
  dropped_metric_.Increment();
}

void PredictionLog::AddPredictionListener(PredictionListener* listener) {
  prediction_listeners_.push_back(listener);
}

void PredictionLog::AddOutcomeListener(OutcomeListener* listener) {
  outcome_listeners_.push_back(listener);
}

void PredictionLog::PublishOutcome(const OutcomeRecord& outcome) {
  std::lock_guard lock(listener_mutex_);
  for (auto* listener : outcome_listeners_) listener->OnOutcome(outcome);
}

void PredictionLog::Flush() {
  const uint64_t target = offered_.load();
  wake_.notify_all();
  while (processed_.load() < target && writer_.joinable()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void PredictionLog::WriterLoop() {
  auto next_retention = clock_.Now();
  for (;;) {
    if (WriteBatch()) continue;
    if (clock_.Now() >= next_retention) {
      if (auto applied = ApplyRetention(); !applied) {
        log::Error("prediction log retention failed", {{"error", applied.error().message}});
      }
      next_retention = clock_.Now() + std::chrono::hours(1);
    }
    std::unique_lock lock(wake_mutex_);
    if (stopping_) {
      lock.unlock();
      if (!WriteBatch()) return;
      continue;
    }
    wake_.wait_for(lock, options_.flush_interval);
  }
}

Result<std::string> PredictionLog::Seal(const serving::PredictionRecord& record) {
  std::string encoded = EncodeRecord(record);
  if (!options_.cipher.seal) return encoded;
  // Batches mostly hold one endpoint's records: its object name and region are worked out once.
  WriterContext& context = writer_context_;
  if (context.object.empty() || record.project != context.project ||
      record.endpoint != context.endpoint) {
    auto region = regions_.find(record.project);
    if (region == regions_.end()) {
      FALAJ_ASSIGN_OR_RETURN(auto found, options_.cipher.region(record.project));
      region = regions_.emplace(record.project, std::move(found)).first;
    }
    context = {record.project,     record.endpoint,
               region->second,     ObjectName(record.project, record.endpoint),
               context.day_number, context.day};
  }
  return options_.cipher.seal(record.project, context.region, context.object, encoded);
}

const std::string& PredictionLog::DayOf(int64_t timestamp_ms) {
  constexpr int64_t kDayMs = 24 * 3600 * 1000;
  WriterContext& context = writer_context_;
  const int64_t day_number =
      timestamp_ms >= 0 ? timestamp_ms / kDayMs : (timestamp_ms - kDayMs + 1) / kDayMs;
  if (day_number != context.day_number || context.day.empty()) {
    context.day_number = day_number;
    context.day = SegmentFiles::Day(timestamp_ms);
  }
  return context.day;
}

Result<serving::PredictionRecord> PredictionLog::Open(std::string_view project,
                                                      std::string_view endpoint,
                                                      std::string_view payload) {
  if (!options_.cipher.open) return DecodeRecord(payload);
  FALAJ_ASSIGN_OR_RETURN(auto region, options_.cipher.region(project));
  FALAJ_ASSIGN_OR_RETURN(
      auto plain, options_.cipher.open(project, region, ObjectName(project, endpoint), payload));
  return DecodeRecord(plain);
}

Status PredictionLog::InsertIndex(storage::Transaction& tx,
                                  const std::vector<IndexEntry>& entries) {
  // Many rows per statement: the writer indexes every record, and one parse per row dominated
  // its profile.
  constexpr size_t kRowsPerStatement = 256;
  for (size_t first = 0; first < entries.size(); first += kRowsPerStatement) {
    const size_t count = std::min(kRowsPerStatement, entries.size() - first);
    std::string sql =
        "INSERT INTO prediction_log_index (project, endpoint, segment, frame_offset, request_id, "
        "unit_key, timestamp_ms, shadow) VALUES ";
    std::vector<storage::SqlValue> params;
    params.reserve(count * 8);
    for (size_t i = first; i < first + count; ++i) {
      const IndexEntry& entry = entries[i];
      sql += i == first ? "(?, ?, ?, ?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?, ?, ?, ?)";
      params.insert(params.end(),
                    {entry.project, entry.endpoint, entry.location.segment,
                     static_cast<int64_t>(entry.location.offset), entry.request_id, entry.unit_key,
                     entry.timestamp_ms, int64_t{entry.shadow ? 1 : 0}});
    }
    FALAJ_RETURN_IF_ERROR(tx.Run(sql, params));
  }
  return Ok();
}

bool PredictionLog::WriteBatch() {
  std::vector<serving::PredictionRecord> batch;
  while (batch.size() < kBatchLimit) {
    auto record = queue_.TryPop();
    if (!record) break;
    batch.push_back(std::move(*record));
  }
  if (batch.empty()) return false;
  std::vector<IndexEntry> entries;
  entries.reserve(batch.size());
  std::vector<const serving::PredictionRecord*> durable;
  uint64_t bytes = 0;
  {
    std::unique_lock lock(files_mutex_);
    for (const auto& record : batch) {
      auto payload = Seal(record);
      auto location = payload ? files_.Append(record.project, record.endpoint,
                                              DayOf(record.timestamp_ms), *payload)
                              : Result<FrameLocation>(std::unexpected(payload.error()));
      if (!location) {
        log::Error("prediction log append failed", {{"error", location.error().message}});
        continue;
      }
      bytes += kFrameHeaderBytes + payload->size();
      entries.push_back({record.project, record.endpoint, std::move(*location), record.request_id,
                         record.unit_key, record.timestamp_ms, record.shadow});
      durable.push_back(&record);
    }
    Status synced = files_.Flush();
    if (synced) {
      synced =
          store_.RunTransaction(storage::TransactionMode::kReadWrite,
                                [&](storage::Transaction& tx) { return InsertIndex(tx, entries); });
    }
    if (!synced) {
      log::Error("prediction log write failed", {{"error", synced.error().message}});
      durable.clear();
    }
  }
  failed_ += batch.size() - durable.size();
  failed_metric_.Increment(static_cast<double>(batch.size() - durable.size()));
  written_ += durable.size();
  written_metric_.Increment(static_cast<double>(durable.size()));
  bytes_ += bytes;
  bytes_metric_.Increment(static_cast<double>(bytes));
  if (!prediction_listeners_.empty()) {
    std::lock_guard lock(listener_mutex_);
    for (const auto* record : durable) {
      for (auto* listener : prediction_listeners_) listener->OnPrediction(*record);
    }
  }
  processed_ += batch.size();
  return true;
}

Result<std::vector<LoggedPrediction>> PredictionLog::Load(std::string_view project,
                                                          const storage::Rows& rows) {
  std::vector<LoggedPrediction> loaded;
  std::optional<SegmentReader> reader;
  std::string reader_segment;
  std::shared_lock lock(files_mutex_);
  for (const auto& row : rows) {
    const std::string& segment = row.Text(0);
    if (!reader || reader_segment != segment) {
      FALAJ_ASSIGN_OR_RETURN(reader, SegmentReader::Open(files_.Path(project, segment)));
      reader_segment = segment;
    }
    FALAJ_RETURN_IF_ERROR(reader->Seek(static_cast<uint64_t>(row.Int(1))));
    FALAJ_ASSIGN_OR_RETURN(auto frame, reader->Next());
    if (!frame) {
      return MakeError(ErrorCode::kDataLoss, "indexed prediction missing: {}", reader->damaged());
    }
    FALAJ_ASSIGN_OR_RETURN(auto record, Open(project, row.Text(2), frame->payload));
    loaded.push_back({std::move(record), segment, frame->offset});
  }
  return loaded;
}

Result<PredictionPage> PredictionLog::Read(const PredictionQuery& query) {
  std::string sql = fmt::format(
      "SELECT {} FROM prediction_log_index WHERE project = ? AND endpoint = ? AND timestamp_ms "
      ">= ?",
      kIndexColumns);
  std::vector<storage::SqlValue> params = {query.project, query.endpoint, query.since_ms};
  if (!query.request_id.empty()) {
    sql += " AND request_id <> '' AND request_id = ?";
    params.emplace_back(query.request_id);
  }
  if (!query.unit_key.empty()) {
    sql += " AND unit_key <> '' AND unit_key = ?";
    params.emplace_back(query.unit_key);
  }
  if (!query.after.empty()) {
    FALAJ_ASSIGN_OR_RETURN(auto cursor, ParseCursor(query.after));
    auto [timestamp, offset, segment] = std::move(cursor);
    sql +=
        " AND (timestamp_ms > ? OR (timestamp_ms = ? AND (segment > ? OR (segment = ? AND "
        "frame_offset > ?))))";
    params.insert(params.end(), {timestamp, timestamp, segment, segment, offset});
  }
  sql += fmt::format(" ORDER BY timestamp_ms, segment, frame_offset LIMIT {}", query.limit + 1);
  storage::Rows rows;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(storage::TransactionMode::kReadOnly,
                                              [&](storage::Transaction& tx) -> Status {
                                                FALAJ_ASSIGN_OR_RETURN(rows, tx.Query(sql, params));
                                                return Ok();
                                              }));
  const bool more = rows.size() > query.limit;
  if (more) rows.pop_back();
  PredictionPage page;
  FALAJ_ASSIGN_OR_RETURN(page.items, Load(query.project, rows));
  if (more && !page.items.empty()) page.next = Cursor(page.items.back());
  return page;
}

Result<std::optional<LoggedPrediction>> PredictionLog::FindRequest(std::string_view project,
                                                                   std::string_view endpoint,
                                                                   std::string_view request_id) {
  storage::Rows rows;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            rows,
            tx.Query(
                fmt::format("SELECT {} FROM prediction_log_index WHERE project = ? AND "
                            "endpoint = ? AND request_id <> '' AND request_id = ? ORDER BY shadow, "
                            "timestamp_ms DESC LIMIT 1",
                            kIndexColumns),
                {std::string(project), std::string(endpoint), std::string(request_id)}));
        return Ok();
      }));
  FALAJ_ASSIGN_OR_RETURN(auto loaded, Load(project, rows));
  if (loaded.empty()) return std::optional<LoggedPrediction>();
  return std::optional<LoggedPrediction>(std::move(loaded.front()));
}

Result<std::optional<LoggedPrediction>> PredictionLog::LatestForUnit(std::string_view project,
                                                                     std::string_view endpoint,
                                                                     std::string_view unit_key,
                                                                     int64_t at_ms) {
  storage::Rows rows;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            rows,
            tx.Query(
                fmt::format("SELECT {} FROM prediction_log_index WHERE project = ? AND "
                            "endpoint = ? AND unit_key <> '' AND unit_key = ? AND shadow = 0 AND "
                            "timestamp_ms <= ? ORDER BY timestamp_ms DESC, segment "
                            "DESC, frame_offset DESC LIMIT 1",
                            kIndexColumns),
                {std::string(project), std::string(endpoint), std::string(unit_key), at_ms}));
        return Ok();
      }));
  FALAJ_ASSIGN_OR_RETURN(auto loaded, Load(project, rows));
  if (loaded.empty()) return std::optional<LoggedPrediction>();
  return std::optional<LoggedPrediction>(std::move(loaded.front()));
}

Result<PredictionLogStats> PredictionLog::Stats(std::string_view project,
                                                std::string_view endpoint) {
  PredictionLogStats stats{written_.load(), dropped_.load(), bytes_.load(), failed_.load(),
                           offered_.load() - std::min(offered_.load(), processed_.load())};
  const std::string name(endpoint);
  std::shared_lock lock(files_mutex_);
  FALAJ_ASSIGN_OR_RETURN(auto segments, files_.List(project, &name));
  for (const auto& segment : segments) {
    std::error_code error;
    stats.segments += 1;
    stats.segment_bytes += std::filesystem::file_size(files_.Path(project, segment), error);
  }
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM prediction_log_index "
                                                   "WHERE project = ? AND endpoint = ?",
                                                   {std::string(project), name}));
        stats.indexed_records = static_cast<uint64_t>(rows.at(0).Int(0));
        return Ok();
      }));
  return stats;
}

Result<LogErasure> PredictionLog::Erase(
    std::string_view project, const std::vector<std::pair<std::string, std::string>>& keys) {
  LogErasure erasure;
  std::unique_lock lock(files_mutex_);
  FALAJ_RETURN_IF_ERROR(files_.Close(project));
  FALAJ_ASSIGN_OR_RETURN(auto segments, files_.List(project));
  for (const auto& segment : segments) {
    const std::string path = files_.Path(project, segment);
    FALAJ_ASSIGN_OR_RETURN(auto reader, SegmentReader::Open(path));
    const std::string endpoint = EndpointOf(segment);
    std::vector<std::string> kept;
    std::vector<serving::PredictionRecord> kept_records;
    std::vector<std::string> removed_ids;
    for (;;) {
      FALAJ_ASSIGN_OR_RETURN(auto frame, reader.Next());
      if (!frame) break;
      FALAJ_ASSIGN_OR_RETURN(auto record, Open(project, endpoint, frame->payload));
      if (MatchesEntity(record, keys)) {
        removed_ids.push_back(record.request_id);
        continue;
      }
      kept.push_back(std::move(frame->payload));
      kept_records.push_back(std::move(record));
    }
    // A torn tail is dropped by the rewrite too: nothing after it was ever readable.
    if (removed_ids.empty()) continue;
    FALAJ_ASSIGN_OR_RETURN(auto offsets, RewriteSegment(path, kept));
    FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
        storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
          FALAJ_RETURN_IF_ERROR(
              tx.Run("DELETE FROM prediction_log_index WHERE project = ? AND endpoint = ? AND "
                     "segment = ?",
                     {std::string(project), endpoint, segment}));
          std::vector<IndexEntry> entries;
          entries.reserve(kept_records.size());
          for (size_t i = 0; i < kept_records.size(); ++i) {
            const auto& record = kept_records[i];
            entries.push_back({record.project,
                               record.endpoint,
                               {segment, offsets[i]},
                               record.request_id,
                               record.unit_key,
                               record.timestamp_ms,
                               record.shadow});
          }
          FALAJ_RETURN_IF_ERROR(InsertIndex(tx, entries));
          return Ok();
        }));
    erasure.records_removed += static_cast<int64_t>(removed_ids.size());
    erasure.segments_rewritten.push_back(segment);
    erasure.request_ids.insert(erasure.request_ids.end(), removed_ids.begin(), removed_ids.end());
  }
  return erasure;
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
      FALAJ_RETURN_IF_ERROR(files_.Close(project));
      FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
          storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
            return tx.Run(
                "DELETE FROM prediction_log_index WHERE project = ? AND endpoint = ? AND "
                "segment = ?",
                {project, EndpointOf(segment), segment});
          }));
      std::error_code error;
      std::filesystem::remove(files_.Path(project, segment), error);
      ++deleted;
    }
  }
  return deleted;
}

}  // namespace falaj::monitoring
