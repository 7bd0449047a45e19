#include "data/dataset_store.h"

#include <arrow/api.h>

#include "common/resource_names.h"
#include "data/arrow_status.h"
#include "data/parquet_io.h"
#include "data/quarantine.h"

namespace falaj::data {
namespace {

constexpr const char* kColumns =
    "version, kind, schema, row_count, sha256, size_bytes, region, profile, report, lineage, "
    "created_by, created_at_ms";

struct KindName {
  DatasetKind kind;
  std::string_view name;
};
constexpr KindName kKindNames[] = {{DatasetKind::kIngested, "ingested"},
                                   {DatasetKind::kQuarantine, "quarantine"},
                                   {DatasetKind::kTraining, "training"}};

DatasetKind KindFromName(std::string_view name) {
  for (const auto& entry : kKindNames) {
    if (entry.name == name) return entry.kind;
  }
  return DatasetKind::kIngested;
}

Result<DatasetVersion> FromRow(const storage::Row& row, std::string_view project,
                               std::string_view dataset) {
  DatasetVersion version;
  version.project = project;
  version.dataset = dataset;
  version.version = row.Int(0);
  version.kind = KindFromName(row.Text(1));
  FALAJ_ASSIGN_OR_RETURN(version.schema, ParseTableSchema(nlohmann::json::parse(row.Text(2))));
  version.rows = row.Int(3);
  version.sha256 = row.Text(4);
  version.size_bytes = row.Int(5);
  version.region = row.Text(6);
  version.profile = nlohmann::json::parse(row.Text(7));
  version.report = nlohmann::json::parse(row.Text(8));
  version.lineage = nlohmann::json::parse(row.Text(9));
  version.created_by = row.Text(10);
  version.created_at_ms = row.Int(11);
  return version;
}

Status SameSchema(const TableSchema& stored, const TableSchema& added, std::string_view dataset) {
  if (TableSchemaJson(stored) == TableSchemaJson(added)) return Ok();
  return MakeError(ErrorCode::kFailedPrecondition,
                   "dataset '{}' has schema {}; a version with schema {} cannot be added to it",
                   dataset, TableSchemaJson(stored).dump(), TableSchemaJson(added).dump());
}

}  // namespace

std::string_view DatasetKindName(DatasetKind kind) {
  for (const auto& entry : kKindNames) {
    if (entry.kind == kind) return entry.name;
  }
  return "ingested";
}

DatasetStore::DatasetStore(storage::MetadataStore& store, storage::ProjectBlobStores blobs,
                           ProjectRegions regions, const Clock& clock)
    : store_(store), blobs_(std::move(blobs)), regions_(std::move(regions)), clock_(clock) {}

const storage::MigrationSet& DatasetStore::Migrations() {
  static const storage::MigrationSet kSet{
      "datasets",
      {{1, "create dataset versions",
        "CREATE TABLE dataset_versions (project TEXT NOT NULL, dataset TEXT NOT NULL, version "
        "BIGINT NOT NULL, kind TEXT NOT NULL, schema TEXT NOT NULL, row_count BIGINT NOT NULL, "
        "sha256 TEXT NOT NULL, size_bytes BIGINT NOT NULL, region TEXT NOT NULL, profile TEXT "
        "NOT NULL, report TEXT NOT NULL, lineage TEXT NOT NULL, created_by TEXT NOT NULL, "
        "created_at_ms BIGINT NOT NULL, PRIMARY KEY (project, dataset, version))"}}};
  return kSet;
}

Result<int64_t> DatasetStore::CountInProject(storage::Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(DISTINCT dataset) FROM "
                                             "dataset_versions WHERE project = ?",
                                             {std::string(project)}));
  return rows[0].Int(0);
}

Result<DatasetVersion> DatasetStore::AddVersion(std::string_view project, std::string_view dataset,
                                                const arrow::Table& rows,
                                                NewDatasetVersion version) {
  FALAJ_RETURN_IF_ERROR(ValidateName("dataset name", dataset));
  FALAJ_ASSIGN_OR_RETURN(std::string region, regions_(project));
  FALAJ_ASSIGN_OR_RETURN(std::string parquet, WriteParquet(rows));
  FALAJ_ASSIGN_OR_RETURN(auto blobs, blobs_(project));
  FALAJ_ASSIGN_OR_RETURN(std::string digest, blobs->Put(parquet));
  DatasetVersion added;
  added.project = project;
  added.dataset = dataset;
  added.kind = version.kind;
  added.schema = std::move(version.schema);
  added.rows = rows.num_rows();
  added.sha256 = digest;
  added.size_bytes = static_cast<int64_t>(parquet.size());
  added.region = region;
  added.profile = std::move(version.profile);
  added.report = std::move(version.report);
  added.lineage = std::move(version.lineage);
  added.created_by = std::move(version.created_by);
  added.created_at_ms = ToUnixMillis(clock_.Now());
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto latest, tx.Query("SELECT COALESCE(MAX(version), 0) FROM dataset_versions WHERE "
                                  "project = ? AND dataset = ?",
                                  {std::string(project), std::string(dataset)}));
        added.version = latest[0].Int(0) + 1;
        if (added.version > 1) {
          FALAJ_ASSIGN_OR_RETURN(auto previous, Load(tx, project, dataset, added.version - 1));
          FALAJ_RETURN_IF_ERROR(SameSchema(previous.schema, added.schema, dataset));
        }
        return tx.Run(
            "INSERT INTO dataset_versions (project, dataset, version, kind, schema, row_count, "
            "sha256, size_bytes, region, profile, report, lineage, created_by, created_at_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {std::string(project), std::string(dataset), added.version,
             std::string(DatasetKindName(added.kind)), TableSchemaJson(added.schema).dump(),
             added.rows, added.sha256, added.size_bytes, added.region, added.profile.dump(),
             added.report.dump(), added.lineage.dump(), added.created_by, added.created_at_ms});
      }));
  return added;
}

Result<std::vector<DatasetSummary>> DatasetStore::List(std::string_view project) {
  std::vector<DatasetSummary> summaries;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto rows,
            tx.Query("SELECT dataset, MIN(kind), MAX(version), SUM(row_count), MAX(created_at_ms) "
                     "FROM dataset_versions WHERE project = ? GROUP BY dataset ORDER BY dataset",
                     {std::string(project)}));
        for (const auto& row : rows) {
          summaries.push_back(
              {row.Text(0), KindFromName(row.Text(1)), row.Int(2), row.Int(3), row.Int(4)});
        }
        return Ok();
      }));
  return summaries;
}

Result<DatasetVersion> DatasetStore::Load(storage::Transaction& tx, std::string_view project,
                                          std::string_view dataset, int64_t version) {
  const std::string sql =
      version == 0 ? fmt::format(
                         "SELECT {} FROM dataset_versions WHERE project = ? AND dataset = ? ORDER "
                         "BY version DESC LIMIT 1",
                         kColumns)
                   : fmt::format(
                         "SELECT {} FROM dataset_versions WHERE project = ? AND dataset = ? AND "
                         "version = ?",
                         kColumns);
  std::vector<storage::SqlValue> params = {std::string(project), std::string(dataset)};
  if (version != 0) params.emplace_back(version);
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query(sql, params));
  if (rows.empty()) {
    if (version == 0) {
      return MakeError(ErrorCode::kNotFound, "dataset '{}' not found in project '{}'", dataset,
                       project);
    }
    return MakeError(ErrorCode::kNotFound, "dataset '{}' has no version {}", dataset, version);
  }
  return FromRow(rows[0], project, dataset);
}

Result<std::vector<DatasetVersion>> DatasetStore::ListVersions(std::string_view project,
                                                               std::string_view dataset) {
  std::vector<DatasetVersion> versions;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto rows, tx.Query(fmt::format("SELECT {} FROM dataset_versions WHERE project = ? "
                                            "AND dataset = ? ORDER BY version",
                                            kColumns),
                                {std::string(project), std::string(dataset)}));
        for (const auto& row : rows) {
          FALAJ_ASSIGN_OR_RETURN(auto version, FromRow(row, project, dataset));
          versions.push_back(std::move(version));
        }
        return Ok();
      }));
  if (versions.empty()) {
    return MakeError(ErrorCode::kNotFound, "dataset '{}' not found in project '{}'", dataset,
                     project);
  }
  return versions;
}

Result<DatasetVersion> DatasetStore::GetVersion(std::string_view project, std::string_view dataset,
                                                int64_t version) {
  DatasetVersion found;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(found, Load(tx, project, dataset, version));
        return Ok();
      }));
  return found;
}

Result<std::string> DatasetStore::ReadParquetBytes(std::string_view project,
                                                   std::string_view dataset, int64_t version) {
  FALAJ_ASSIGN_OR_RETURN(auto found, GetVersion(project, dataset, version));
  FALAJ_ASSIGN_OR_RETURN(auto blobs, blobs_(project));
  return blobs->Get(found.sha256);
}

Result<std::shared_ptr<arrow::Table>> DatasetStore::ReadVersion(std::string_view project,
                                                                std::string_view dataset,
                                                                int64_t version) {
  FALAJ_ASSIGN_OR_RETURN(auto bytes, ReadParquetBytes(project, dataset, version));
  return ReadParquet(bytes);
}

Result<std::shared_ptr<arrow::Table>> DatasetStore::ReadUpTo(std::string_view project,
                                                             std::string_view dataset,
                                                             int64_t version) {
  if (version != 0) FALAJ_RETURN_IF_ERROR(GetVersion(project, dataset, version));
  return ReadRange(project, dataset, 0, version);
}

Result<std::shared_ptr<arrow::Table>> DatasetStore::ReadRange(std::string_view project,
                                                              std::string_view dataset,
                                                              int64_t after, int64_t up_to) {
  FALAJ_ASSIGN_OR_RETURN(auto versions, ListVersions(project, dataset));
  FALAJ_ASSIGN_OR_RETURN(auto blobs, blobs_(project));
  std::vector<std::shared_ptr<arrow::Table>> tables;
  for (const auto& stored : versions) {
    if (stored.version <= after) continue;
    if (up_to != 0 && stored.version > up_to) break;
    FALAJ_ASSIGN_OR_RETURN(auto bytes, blobs->Get(stored.sha256));
    FALAJ_ASSIGN_OR_RETURN(auto table, ReadParquet(bytes));
    tables.push_back(std::move(table));
  }
  if (tables.empty()) {
    return FromArrow(arrow::Table::MakeEmpty(ArrowSchema(versions.back().schema)),
                     "making an empty table");
  }
  return FromArrow(arrow::ConcatenateTables(tables), "concatenating dataset versions");
}

Status DatasetStore::Delete(std::string_view project, std::string_view dataset) {
  FALAJ_ASSIGN_OR_RETURN(auto versions, ListVersions(project, dataset));
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run("DELETE FROM dataset_versions WHERE project = ? AND dataset = ?",
                      {std::string(project), std::string(dataset)});
      }));
  FALAJ_ASSIGN_OR_RETURN(auto blobs, blobs_(project));
  for (const auto& version : versions) {
    FALAJ_RETURN_IF_ERROR(DeleteIfUnused(project, *blobs, version.sha256));
  }
  return Ok();
}

// Blobs are content-addressed: keep one that another version (of any dataset) still uses.
Status DatasetStore::DeleteIfUnused(std::string_view project, storage::BlobStore& blobs,
                                    const std::string& sha256) {
  bool shared = false;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows,
                               tx.Query("SELECT COUNT(*) FROM dataset_versions WHERE project = ? "
                                        "AND sha256 = ?",
                                        {std::string(project), sha256}));
        shared = rows[0].Int(0) > 0;
        return Ok();
      }));
  if (shared) return Ok();
  return blobs.Delete(sha256);
}

Result<DatasetVersion> DatasetStore::Rewrite(std::string_view project, std::string_view dataset,
                                             int64_t version, const arrow::Table& rows,
                                             const nlohmann::json& note) {
  return Replace(project, dataset, version, rows, "erasures", note, false);
}

Result<DatasetVersion> DatasetStore::Purge(std::string_view project, std::string_view dataset,
                                           int64_t version, const nlohmann::json& note) {
  FALAJ_ASSIGN_OR_RETURN(auto stored, GetVersion(project, dataset, version));
  std::shared_ptr<arrow::Schema> schema = stored.kind == DatasetKind::kQuarantine
                                              ? QuarantineSchema(stored.schema)
                                              : ArrowSchema(stored.schema);
  FALAJ_ASSIGN_OR_RETURN(auto empty,
                         FromArrow(arrow::Table::MakeEmpty(schema), "making an empty version"));
  return Replace(project, dataset, version, *empty, "retention", note, true);
}

Result<DatasetVersion> DatasetStore::Replace(std::string_view project, std::string_view dataset,
                                             int64_t version, const arrow::Table& rows,
                                             std::string_view note_key, const nlohmann::json& note,
                                             bool clear_profile) {
  FALAJ_ASSIGN_OR_RETURN(auto stored, GetVersion(project, dataset, version));
  FALAJ_ASSIGN_OR_RETURN(std::string parquet, WriteParquet(rows));
  FALAJ_ASSIGN_OR_RETURN(auto blobs, blobs_(project));
  FALAJ_ASSIGN_OR_RETURN(std::string digest, blobs->Put(parquet));
  const std::string old_digest = stored.sha256;
  const std::string key(note_key);
  if (!stored.lineage.contains(key)) stored.lineage[key] = nlohmann::json::array();
  stored.lineage[key].push_back(note);
  if (clear_profile) stored.profile = nlohmann::json::object();
  stored.sha256 = digest;
  stored.size_bytes = static_cast<int64_t>(parquet.size());
  stored.rows = rows.num_rows();
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(
            "UPDATE dataset_versions SET sha256 = ?, size_bytes = ?, row_count = ?, lineage = ?, "
            "profile = ? WHERE project = ? AND dataset = ? AND version = ?",
            {stored.sha256, stored.size_bytes, stored.rows, stored.lineage.dump(),
             stored.profile.dump(), std::string(project), std::string(dataset), version});
      }));
  FALAJ_RETURN_IF_ERROR(DeleteIfUnused(project, *blobs, old_digest));
  return stored;
}

}  // namespace falaj::data
