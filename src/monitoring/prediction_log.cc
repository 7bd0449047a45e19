#include "monitoring/prediction_log.h"

#include <sys/resource.h>
#include <unistd.h>

#include <random>

#include "common/logging.h"
#include "monitoring/segment_format.h"

namespace falaj::monitoring {
namespace {

constexpr size_t kBatchLimit = 4096;
constexpr int kWriterNice = 5;
// Records and input values per frame: bound what reading one record back has to decode, and keep
// the writer's buffers small enough to be reused rather than mapped afresh for every frame.
constexpr size_t kChunkRecords = 512;
constexpr size_t kChunkValues = 64 * 1024;

// A cheap per-thread generator for sampling: no lock, no syscall, good enough for a coin flip.
double UnitRandom() {
  thread_local uint64_t state = std::random_device{}() | 1;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<double>(state >> 11) * 0x1.0p-53;
}

// Days since the epoch (UTC) of a wall-clock time, negative times included.
int64_t DayNumber(int64_t timestamp_ms) {
  constexpr int64_t kDayMs = 24 * 3600 * 1000;
  return timestamp_ms >= 0 ? timestamp_ms / kDayMs : (timestamp_ms - kDayMs + 1) / kDayMs;
}

}  // namespace

const storage::MigrationSet& PredictionLog::Migrations() { return PredictionIndexMigrations(); }

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
  // The writer is background work: when it competes with serving threads for a core, serving
  // wins (Linux applies a thread id's nice value to that thread alone). It still gets about a
  // third of a contended core, and a queue that fills shows up as counted drops.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kWriterNice);
  auto next_retention = clock_.Now();
  for (;;) {
    // Group commit: a full batch means the writer is behind, so it goes on at once; otherwise it
    // waits a flush interval for more, so that a busy endpoint costs one fdatasync per interval
    // rather than one per handful of records.
    if (WriteBatch() == kBatchLimit) continue;
    if (clock_.Now() >= next_retention) {
      if (auto applied = ApplyRetention(); !applied) {
        log::Error("prediction log retention failed", {{"error", applied.error().message}});
      }
      next_retention = clock_.Now() + std::chrono::hours(1);
    }
    std::unique_lock lock(wake_mutex_);
    if (stopping_) {
      lock.unlock();
      if (WriteBatch() == 0) return;
      continue;
    }
    wake_.wait_for(lock, options_.flush_interval);
  }
}

std::string PredictionLog::ObjectName(std::string_view project, std::string_view endpoint) {
  return fmt::format("prediction-log/{}/{}", project, SegmentFiles::EndpointDirectory(endpoint));
}

Result<std::string> PredictionLog::Seal(const std::string& project, const std::string& endpoint,
                                        std::string_view chunk) {
  if (!options_.cipher.seal) return std::string(chunk);
  // Batches mostly hold one endpoint's records: its object name and region are worked out once.
  if (context_.object.empty() || project != context_.project || endpoint != context_.endpoint) {
    auto region = regions_.find(project);
    if (region == regions_.end()) {
      FALAJ_ASSIGN_OR_RETURN(auto found, options_.cipher.region(project));
      region = regions_.emplace(project, std::move(found)).first;
    }
    context_.project = project;
    context_.endpoint = endpoint;
    context_.region = region->second;
    context_.object = ObjectName(project, endpoint);
  }
  return options_.cipher.seal(project, context_.region, context_.object, chunk);
}

Result<std::vector<serving::PredictionRecord>> PredictionLog::Open(std::string_view project,
                                                                   std::string_view endpoint,
                                                                   std::string_view payload) {
  if (!options_.cipher.open) return DecodeChunk(payload);
  FALAJ_ASSIGN_OR_RETURN(auto region, options_.cipher.region(project));
  FALAJ_ASSIGN_OR_RETURN(
      auto plain, options_.cipher.open(project, region, ObjectName(project, endpoint), payload));
  return DecodeChunk(plain);
}

const std::string& PredictionLog::DayOf(int64_t timestamp_ms) {
  const int64_t day_number = DayNumber(timestamp_ms);
  if (day_number != context_.day_number || context_.day.empty()) {
    context_.day_number = day_number;
    context_.day = SegmentFiles::Day(timestamp_ms);
  }
  return context_.day;
}

size_t PredictionLog::WriteBatch() {
  std::vector<serving::PredictionRecord> batch;
  while (batch.size() < kBatchLimit) {
    auto record = queue_.TryPop();
    if (!record) break;
    batch.push_back(std::move(*record));
  }
  if (batch.empty()) return 0;
  // One frame per endpoint and day (a segment holds one day, which retention relies on), and per
  // kChunkRecords or kChunkValues; records in arrival order.
  struct Group {
    std::vector<size_t> members;
    size_t values = 0;
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < batch.size(); ++i) {
    const auto& record = batch[i];
    auto same = [&](const Group& group) {
      const auto& first = batch[group.members.front()];
      return group.members.size() < kChunkRecords && group.values < kChunkValues &&
             first.project == record.project && first.endpoint == record.endpoint &&
             DayNumber(first.timestamp_ms) == DayNumber(record.timestamp_ms);
    };
    auto found = !groups.empty() && same(groups.back())
                     ? groups.end() - 1
                     : std::find_if(groups.begin(), groups.end(), same);
    if (found == groups.end()) found = groups.insert(groups.end(), Group{});
    found->members.push_back(i);
    found->values += record.inputs.size() + record.outputs.size();
  }
  std::vector<BlockRow> blocks;
  std::vector<KeyRow> keys;
  std::vector<const serving::PredictionRecord*> durable;
  uint64_t bytes = 0;
  {
    std::unique_lock lock(files_mutex_);
    for (const auto& [group, values] : groups) {
      const auto& first = batch[group.front()];
      BeginChunk(chunk_);
      BlockRow block{
          first.project,      first.endpoint,    "", 0, static_cast<uint32_t>(group.size()),
          first.timestamp_ms, first.timestamp_ms};
      const serving::PredictionRecord* previous = nullptr;
      for (size_t i : group) {
        AddToChunk(chunk_, batch[i], previous);
        previous = &batch[i];
        block.min_timestamp_ms = std::min(block.min_timestamp_ms, batch[i].timestamp_ms);
        block.max_timestamp_ms = std::max(block.max_timestamp_ms, batch[i].timestamp_ms);
      }
      FinishChunk(chunk_, block.records);
      auto payload = Seal(first.project, first.endpoint, chunk_);
      auto location = payload ? files_.Append(first.project, first.endpoint,
                                              DayOf(first.timestamp_ms), *payload)
                              : Result<FrameLocation>(std::unexpected(payload.error()));
      if (!location) {
        log::Error("prediction log append failed", {{"error", location.error().message}});
        continue;
      }
      bytes += kFrameHeaderBytes + payload->size();
      block.segment = location->segment;
      block.offset = location->offset;
      for (uint32_t item = 0; item < group.size(); ++item) {
        const auto& record = batch[group[item]];
        durable.push_back(&record);
        if (record.request_id.empty() && record.unit_key.empty()) continue;
        keys.push_back({record.project,
                        record.endpoint,
                        record.request_id,
                        record.unit_key,
                        record.timestamp_ms,
                        record.shadow,
                        {location->segment, location->offset, item}});
      }
      blocks.push_back(std::move(block));
    }
    Status synced = files_.Flush();
    if (synced) {
      synced = store_.RunTransaction(
          storage::TransactionMode::kReadWrite,
          [&](storage::Transaction& tx) { return InsertIndexRows(tx, blocks, keys); });
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
  return batch.size();
}

}  // namespace falaj::monitoring
