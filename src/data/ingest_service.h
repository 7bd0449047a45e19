// Ingestion: one delivered batch of a source (an uploaded CSV or Parquet file, pushed JSON rows)
// becomes a new version of the source's dataset. The batch is typed against the source's schema,
// validated against its rules (a non-nullable column adds an implicit not-null rule after them),
// profiled, and written; rows that fail typing or validation are written to the quarantine dataset
// `<dataset>.quarantine` with the rule each broke. Under the `strict` policy a failing batch is
// rejected whole — and then every row of it is quarantined, so even a rejected batch is never
// lost. The outcome carries the validation report either way.
//
// Thread-safe: concurrent ingests of one source each add their own versions.
#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "data/batch_readers.h"
#include "data/dataset_store.h"
#include "data/source_store.h"

namespace falaj::data {

// kJsonObjects: one JSON object per element of `objects` (MQTT payloads).
enum class BatchFormat { kCsv, kParquet, kJsonRows, kJsonObjects };

struct IngestRequest {
  std::string project;
  std::string source;
  BatchFormat format = BatchFormat::kCsv;
  std::string_view body;
  std::vector<std::string_view> objects{};  // kJsonObjects
  std::string principal;
};

struct IngestOutcome {
  std::string verdict;  // accepted, accepted_with_quarantine or rejected
  int64_t rows_delivered = 0;
  int64_t rows_accepted = 0;
  int64_t rows_quarantined = 0;
  std::optional<DatasetVersion> dataset;     // absent when no row was accepted
  std::optional<DatasetVersion> quarantine;  // absent when no row was quarantined
  nlohmann::json validation;                 // the validation report
  std::string online_error;                  // set when the streaming write failed
};

nlohmann::json IngestOutcomeJson(const IngestOutcome& outcome);

// One pull of a postgresql source: a dataset version per fetched batch.
struct PullOutcome {
  std::vector<IngestOutcome> batches;
  std::optional<int64_t> watermark_before;  // µs
  std::optional<int64_t> watermark_after;
};

nlohmann::json PullOutcomeJson(const PullOutcome& outcome);

class IngestService {
 public:
  IngestService(SourceStore& sources, DatasetStore& datasets,
                const Clock& clock = SystemClock::Instance())
      : sources_(sources), datasets_(datasets), clock_(clock) {}

  // Errors are whole-batch problems (unknown source, unreadable file, header not matching the
  // schema); row problems are quarantined, not errors.
  Result<IngestOutcome> Ingest(const IngestRequest& request);
  // Pulls a postgresql source: the rows after its watermark (every row when it has no timestamp
  // column), in batches; the watermark is recorded after each stored batch.
  Result<PullOutcome> Pull(std::string_view project, std::string_view source,
                           std::string_view principal);

  // Called with every batch of accepted rows once it is stored as `dataset_version` (streaming
  // writes to the online store; aggregations use the version to skip rows merged twice). Its
  // failure does not undo the stored version: the outcome reports it. Set before serving; not
  // thread-safe to change.
  using AcceptedListener = std::function<Status(std::string_view project, std::string_view source,
                                                const arrow::Table& rows, int64_t dataset_version)>;
  void OnAccepted(AcceptedListener listener) { on_accepted_ = std::move(listener); }

 private:
  Result<IngestOutcome> IngestBatch(const Source& source, DeliveredBatch batch,
                                    std::string_view format, std::string_view principal);

  SourceStore& sources_;
  DatasetStore& datasets_;
  const Clock& clock_;
  AcceptedListener on_accepted_;
};

}  // namespace falaj::data
