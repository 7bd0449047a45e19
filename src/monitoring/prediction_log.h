// The prediction log: takes the predictor's sampled PredictionRecords without ever blocking it
// (a bounded lock-free queue; a full queue drops the record and counts the drop), and one writer
// thread appends them to per-project, per-endpoint segment files (segment_format.h) as one frame
// per endpoint and batch, fdatasyncs each batch, indexes it (prediction_index.h: a block row per
// frame, a key row per record with a request id or unit key) and only then hands the records to
// the PredictionListeners. It also reads them back (by request id, unit key or time), applies
// retention, erases an entity's records, purges an endpoint's whole log (before its project is
// deleted), and passes outcomes to the OutcomeListeners. Frames are sealed under the project's
// data key when a cipher is given. docs/prediction-log.md describes the format, sampling,
// durability and joining rules.
//
// Thread-safety: Sample and Offer are lock-free and safe from any thread (the serving path).
// Reads, Erase, Purge and ApplyRetention are safe from any thread; they share a reader-writer
// lock with the writer's batches. Listeners are added before Start(); they are called one at a
// time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "common/result.h"
#include "monitoring/bounded_queue.h"
#include "monitoring/prediction_events.h"
#include "monitoring/prediction_index.h"
#include "monitoring/segment_files.h"
#include "serving/prediction_record.h"
#include "storage/metadata_store.h"

namespace falaj::monitoring {

// Seals and opens a record's bytes under the project's data key, bound to its region and to
// `object` ("prediction-log/<project>/<endpoint>").
struct PayloadCipher {
  std::function<Result<std::string>(std::string_view project)> region;
  std::function<Result<std::string>(std::string_view project, std::string_view region,
                                    std::string_view object, std::string_view plaintext)>
      seal;
  std::function<Result<std::string>(std::string_view project, std::string_view region,
                                    std::string_view object, std::string_view sealed)>
      open;
};

struct PredictionLogOptions {
  std::string directory = {};  // the segments' root, "<data_dir>/prediction_logs"
  double sample_rate = 1.0;
  // Per endpoint, overriding sample_rate: "project/endpoint" → rate.
  std::map<std::string, double, std::less<>> endpoint_sample_rates = {};
  size_t queue_capacity = 65536;
  std::chrono::milliseconds flush_interval{20};
  uint64_t segment_bytes = 64ull << 20;
  int64_t retention_days = 30;  // 0 keeps segments forever
  PayloadCipher cipher = {};    // no functions: records are stored in the clear
  // A project's own retention limit in days (its retention policy), overriding retention_days;
  // nullopt when the project has none.
  std::function<Result<std::optional<int64_t>>(std::string_view project)> project_retention_days =
      {};
};

// One logged prediction with where it is stored.
struct LoggedPrediction {
  serving::PredictionRecord record;
  RecordRef ref;
};

struct PredictionQuery {
  std::string project = {};
  std::string endpoint = {};
  std::string request_id = {};  // at most one of request_id and unit_key
  std::string unit_key = {};
  int64_t since_ms = 0;
  std::string after = {};  // the previous page's cursor
  size_t limit = 100;
};

struct PredictionPage {
  std::vector<LoggedPrediction> items;
  std::string next;  // cursor of the next page; "" when this was the last
};

struct PredictionLogStats {
  uint64_t written = 0;  // process-wide, since start
  uint64_t dropped = 0;  // process-wide, since start
  uint64_t bytes = 0;    // process-wide, since start
  uint64_t failed = 0;   // records lost to write errors
  uint64_t queued = 0;
  // On disk, for the endpoint asked about.
  uint64_t segments = 0;
  uint64_t segment_bytes = 0;
  uint64_t indexed_records = 0;
};

// What an erasure removed from the log.
struct LogErasure {
  int64_t records_removed = 0;
  std::vector<std::string> segments_rewritten;
  std::vector<std::string> request_ids;  // of the removed records, to erase their outcomes
};

// What purging an endpoint's log removed.
struct LogPurge {
  int64_t segments = 0;
  int64_t records = 0;  // indexed records in those segments
};

class PredictionLog final : public serving::PredictionSink, public PredictionEventSource {
 public:
  PredictionLog(storage::MetadataStore& store, metrics::Registry& metrics,
                PredictionLogOptions options, const Clock& clock = SystemClock::Instance());
  ~PredictionLog() override;

  static const storage::MigrationSet& Migrations();

  // Starts the writer thread. Stop() drains the queue, syncs and joins; the destructor stops.
  void Start();
  void Stop();

  bool Sample(std::string_view project, std::string_view endpoint) noexcept override;
  void Offer(serving::PredictionRecord&& record) noexcept override;
  void AddPredictionListener(PredictionListener* listener) override;
  void AddOutcomeListener(OutcomeListener* listener) override;

  // Calls the outcome listeners (one at a time, like prediction listeners).
  void PublishOutcome(const OutcomeRecord& outcome);

  // Blocks until everything offered before the call is durable and indexed (tests, shutdown).
  void Flush();

  Result<PredictionPage> Read(const PredictionQuery& query);
  // The logged prediction of a request; nullopt when none is logged.
  Result<std::optional<LoggedPrediction>> FindRequest(std::string_view project,
                                                      std::string_view endpoint,
                                                      std::string_view request_id);
  // The unit's latest logged prediction at or before `at_ms`; nullopt when none.
  Result<std::optional<LoggedPrediction>> LatestForUnit(std::string_view project,
                                                        std::string_view endpoint,
                                                        std::string_view unit_key, int64_t at_ms);
  Result<PredictionLogStats> Stats(std::string_view project, std::string_view endpoint);

  // Removes every record of the project whose entity keys hold all of `keys` (name → value as
  // text) in one row, or whose unit key equals one of the values; rewrites each affected segment
  // atomically and drops its index entries.
  Result<LogErasure> Erase(std::string_view project,
                           const std::vector<std::pair<std::string, std::string>>& keys);
  // Deletes segments of days older than the retention period (the project's, else the log's),
  // and their index entries; returns how many segments went.
  Result<int64_t> ApplyRetention();
  // Deletes every segment of the endpoint and its index rows, after flushing what was queued
  // before the call (so no earlier record lands after the purge). Works for an endpoint that no
  // longer exists, and for "" (models called directly); one with nothing logged purges nothing.
  Result<LogPurge> Purge(std::string_view project, std::string_view endpoint);

  // The project's indexed records: an ownership check, so that a project is not deleted while
  // its logged predictions remain (they would reappear if the name were taken again).
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

 private:
  void WriterLoop();
  // Writes, syncs, indexes and publishes one batch; returns how many records it took.
  size_t WriteBatch();
  static std::string ObjectName(std::string_view project, std::string_view endpoint);
  // The chunk sealed under the project's key (a copy when there is no cipher). Needs files_mutex_.
  Result<std::string> Seal(const std::string& project, const std::string& endpoint,
                           std::string_view chunk);
  Result<std::vector<serving::PredictionRecord>> Open(std::string_view project,
                                                      std::string_view endpoint,
                                                      std::string_view payload);
  // "YYYYMMDD" of a record's time, recomputed only when the day changes. Needs files_mutex_.
  const std::string& DayOf(int64_t timestamp_ms);
  // The records at `refs`, reading each frame once. Needs files_mutex_ (shared).
  Result<std::vector<LoggedPrediction>> Load(std::string_view project, std::string_view endpoint,
                                             const std::vector<RecordRef>& refs);
  Result<std::optional<LoggedPrediction>> LoadFirst(std::string_view project,
                                                    std::string_view endpoint,
                                                    const std::vector<RecordRef>& refs);
  // Rewrites one segment without the entity's records, re-indexing it. Needs files_mutex_.
  Status EraseFromSegment(const std::string& project, const std::string& segment,
                          const std::vector<std::pair<std::string, std::string>>& keys,
                          LogErasure& erasure);
  // Deletes one whole segment and its index rows (rows first, so that no row ever points at a
  // missing file); the project's open segments are closed first, so the writer starts new ones.
  // Needs files_mutex_ exclusively.
  Status DeleteSegment(const std::string& project, const std::string& segment);

  storage::MetadataStore& store_;
  PredictionLogOptions options_;
  const Clock& clock_;
  BoundedQueue<serving::PredictionRecord> queue_;
  metrics::Counter& written_metric_;
  metrics::Counter& dropped_metric_;
  metrics::Counter& bytes_metric_;
  metrics::Counter& failed_metric_;
  std::atomic<uint64_t> written_{0};
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> offered_{0};                       // accepted into the queue
  std::atomic<uint64_t> processed_{0};                     // taken out of the queue and handled
  std::vector<PredictionListener*> prediction_listeners_;  // set before Start()
  std::vector<OutcomeListener*> outcome_listeners_;        // set before Start()
  std::mutex listener_mutex_;                              // one listener call at a time
  // Writer batches and rewrites take it exclusively, reads shared.
  std::shared_mutex files_mutex_;
  SegmentFiles files_;                          // guarded by files_mutex_
  std::map<std::string, std::string> regions_;  // guarded by files_mutex_: project → region
  // What the writer worked out for the previous frame (guarded by files_mutex_).
  struct WriterContext {
    std::string project;
    std::string endpoint;
    std::string region;
    std::string object;
    int64_t day_number = 0;
    std::string day;
  };
  WriterContext context_;
  std::string chunk_;  // guarded by files_mutex_: the chunk being built
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by wake_mutex_
  std::thread writer_;
};

}  // namespace falaj::monitoring
