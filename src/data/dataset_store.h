// Datasets: per project, named append-only series of immutable versions. Each ingest (a file, a
// pushed batch, an MQTT flush) adds one version holding that batch's rows as Parquet (zstd) in
// the project's encrypted, region-bound blob store, with its schema, row count, content digest,
// size, region, statistics profile, validation report and lineage. "The dataset as of version
// N" is the union of versions 1..N, which makes every training set reproducible from the
// version numbers in its lineage. Quarantine datasets (`<dataset>.quarantine`) and training
// sets are datasets too, distinguished by `kind`.
//
// Thread-safe: all state lives in the MetadataStore and the blob stores.
#pragma once

#include <arrow/type_fwd.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "data/table_schema.h"
#include "storage/blob_store.h"
#include "storage/metadata_store.h"

namespace falaj::data {

enum class DatasetKind { kIngested, kQuarantine, kTraining };
std::string_view DatasetKindName(DatasetKind kind);

struct NewDatasetVersion {
  DatasetKind kind = DatasetKind::kIngested;
  TableSchema schema;
  nlohmann::json profile = nlohmann::json::object();
  nlohmann::json report = nlohmann::json::object();   // validation report, when validated
  nlohmann::json lineage = nlohmann::json::object();  // source, ingest, parent versions …
  std::string created_by;
};

struct DatasetVersion {
  std::string project;
  std::string dataset;
  int64_t version = 0;
  DatasetKind kind = DatasetKind::kIngested;
  TableSchema schema;
  int64_t rows = 0;
  std::string sha256;  // of the Parquet file, which is also its blob address
  int64_t size_bytes = 0;
  std::string region;
  nlohmann::json profile;
  nlohmann::json report;
  nlohmann::json lineage;
  std::string created_by;
  int64_t created_at_ms = 0;
};

struct DatasetSummary {
  std::string name;
  DatasetKind kind = DatasetKind::kIngested;
  int64_t latest_version = 0;
  int64_t rows = 0;  // across every version
  int64_t updated_at_ms = 0;
};

// The region a project's data lives in (its pinned region).
using ProjectRegions = std::function<Result<std::string>(std::string_view project)>;

class DatasetStore {
 public:
  // Nothing is owned; everything must outlive the store.
  DatasetStore(storage::MetadataStore& store, storage::ProjectBlobStores blobs,
               ProjectRegions regions, const Clock& clock = SystemClock::Instance());

  static const storage::MigrationSet& Migrations();
  // For the project ownership check: datasets block deleting their project.
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);

  // Writes `rows` (whose schema must equal `version.schema`'s Arrow schema, or the quarantine
  // schema for quarantine versions) and records the next version number. A dataset's versions
  // must keep one schema: FAILED_PRECONDITION naming the difference otherwise.
  Result<DatasetVersion> AddVersion(std::string_view project, std::string_view dataset,
                                    const arrow::Table& rows, NewDatasetVersion version);
  Result<std::vector<DatasetSummary>> List(std::string_view project);
  Result<std::vector<DatasetVersion>> ListVersions(std::string_view project,
                                                   std::string_view dataset);
  // `version` 0 is the latest.
  Result<DatasetVersion> GetVersion(std::string_view project, std::string_view dataset,
                                    int64_t version);
  // One version's rows; DATA_LOSS if its blob does not match its digest.
  Result<std::shared_ptr<arrow::Table>> ReadVersion(std::string_view project,
                                                    std::string_view dataset, int64_t version);
  // The rows of versions 1..`version` (0: every version), concatenated in version order.
  Result<std::shared_ptr<arrow::Table>> ReadUpTo(std::string_view project, std::string_view dataset,
                                                 int64_t version);
  // The rows of the versions after `after` up to `up_to` (0: the latest), in version order; an
  // empty table (with the dataset's schema) when there are none.
  Result<std::shared_ptr<arrow::Table>> ReadRange(std::string_view project,
                                                  std::string_view dataset, int64_t after,
                                                  int64_t up_to);
  // The stored Parquet bytes of one version, verified.
  Result<std::string> ReadParquetBytes(std::string_view project, std::string_view dataset,
                                       int64_t version);
  // Removes the dataset's versions and their blobs.
  Status Delete(std::string_view project, std::string_view dataset);

  // Data-subject erasure: replaces one version's rows with `rows` (the same rows minus an
  // entity's), records `note` in its lineage under "erasures", and deletes the old file unless
  // another version still uses it. The one sanctioned exception to immutability.
  Result<DatasetVersion> Rewrite(std::string_view project, std::string_view dataset,
                                 int64_t version, const arrow::Table& rows,
                                 const nlohmann::json& note);

  // Retention: empties one version — no rows, an empty statistics profile — records `note` in
  // its lineage under "retention", and deletes the old file unless another version still uses
  // it. The version number, schema and lineage stay, so later versions, "as of" reads and
  // lineage references keep their meaning (the data of an expired version simply is no more).
  Result<DatasetVersion> Purge(std::string_view project, std::string_view dataset, int64_t version,
                               const nlohmann::json& note);

 private:
  // Deletes a blob no version of the project refers to any more.
  Status DeleteIfUnused(std::string_view project, storage::BlobStore& blobs,
                        const std::string& sha256);
  // Stores `rows` as the version's file and `note` under `lineage[note_key]`; `clear_profile`
  // drops the statistics computed from the old rows.
  Result<DatasetVersion> Replace(std::string_view project, std::string_view dataset,
                                 int64_t version, const arrow::Table& rows,
                                 std::string_view note_key, const nlohmann::json& note,
                                 bool clear_profile);
  Result<DatasetVersion> Load(storage::Transaction& tx, std::string_view project,
                              std::string_view dataset, int64_t version);

  storage::MetadataStore& store_;
  storage::ProjectBlobStores blobs_;
  ProjectRegions regions_;
  const Clock& clock_;
};

}  // namespace falaj::data
