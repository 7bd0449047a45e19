#include "features/materializer.h"

#include <arrow/api.h>

#include "features/online_aggregates.h"
#include "features/view_rows.h"

namespace falaj::features {

const storage::MigrationSet& Materializer::Migrations() {
  static const storage::MigrationSet kSet{
      "materializations",
      {{1, "create feature materializations",
        "CREATE TABLE feature_materializations (project TEXT NOT NULL, view TEXT NOT NULL, "
        "definition_version BIGINT NOT NULL, dataset_version BIGINT NOT NULL, rows_read BIGINT "
        "NOT NULL, entities_written BIGINT NOT NULL, finished_at_ms BIGINT NOT NULL, PRIMARY KEY "
        "(project, view))"}}};
  return kSet;
}

Result<MaterializationRun> Materializer::RunOne(std::string_view project, const ResolvedView& view,
                                                bool incremental) {
  FALAJ_ASSIGN_OR_RETURN(auto source, sources_.Get(project, view.view.source));
  MaterializationRun run{view.view.name, "full", 0, 0, 0, 0};
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows,
                               tx.Query("SELECT definition_version, dataset_version FROM "
                                        "feature_materializations WHERE project = ? AND view = ?",
                                        {std::string(project), view.view.name}));
        if (incremental && !rows.empty() && rows[0].Int(0) == view.version) {
          run.mode = "incremental";
          run.from_dataset_version = rows[0].Int(1);
        }
        return Ok();
      }));
  auto latest = datasets_.GetVersion(project, source.dataset, 0);
  if (!latest && latest.error().code == ErrorCode::kNotFound) {
    run.to_dataset_version = run.from_dataset_version;
    return run;  // nothing ingested yet
  }
  if (!latest) return std::unexpected(latest.error());
  run.to_dataset_version = latest->version;
  if (run.to_dataset_version > run.from_dataset_version) {
    FALAJ_RETURN_IF_ERROR(Load(project, view, source.dataset, run));
    FALAJ_RETURN_IF_ERROR(online_.Flush());
  }
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_RETURN_IF_ERROR(
            tx.Run("DELETE FROM feature_materializations WHERE project = ? AND view = ?",
                   {std::string(project), view.view.name}));
        return tx.Run(
            "INSERT INTO feature_materializations (project, view, definition_version, "
            "dataset_version, rows_read, entities_written, finished_at_ms) VALUES (?, ?, ?, ?, ?, "
            "?, ?)",
            {std::string(project), view.view.name, view.version, run.to_dataset_version,
             run.rows_read, run.entities_written, ToUnixMillis(clock_.Now())});
      }));
  return run;
}

Status Materializer::Load(std::string_view project, const ResolvedView& view,
                          const std::string& dataset, MaterializationRun& run) {
  const auto now = clock_.Now();
  if (!view.view.aggregated()) {
    FALAJ_ASSIGN_OR_RETURN(
        auto rows,
        datasets_.ReadRange(project, dataset, run.from_dataset_version, run.to_dataset_version));
    run.rows_read = rows->num_rows();
    FALAJ_ASSIGN_OR_RETURN(rows, ViewRows(view.view, std::move(rows)));
    FALAJ_ASSIGN_OR_RETURN(run.entities_written, online_.WriteLatest(project, view, *rows, now,
                                                                     storage::KvWriteMode::kBulk));
    return Ok();
  }
  // A full run rebuilds from scratch: the tiles of an older definition, or of rows erased since,
  // must not survive. Versions streamed meanwhile are newer than the rebuilt batch and kept.
  if (run.mode == "full") FALAJ_RETURN_IF_ERROR(online_.DropView(project, view.view.name));
  const bool full = run.mode == "full";
  for (int64_t version = full ? run.to_dataset_version : run.from_dataset_version + 1;
       version <= run.to_dataset_version; ++version) {
    const int64_t after = full ? 0 : version - 1;
    FALAJ_ASSIGN_OR_RETURN(auto rows, datasets_.ReadRange(project, dataset, after, version));
    run.rows_read += rows->num_rows();
    FALAJ_ASSIGN_OR_RETURN(rows, ViewRows(view.view, std::move(rows)));
    FALAJ_ASSIGN_OR_RETURN(auto written,
                           MergeAggregateRows(kv_, project, view, *rows, after + 1, version, now,
                                              storage::KvWriteMode::kBulk));
    run.entities_written += written;
  }
  return Ok();
}

Result<std::vector<MaterializationRun>> Materializer::Run(std::string_view project,
                                                          const std::vector<std::string>& views,
                                                          bool incremental) {
  std::vector<std::string> names = views;
  if (names.empty()) {
    FALAJ_ASSIGN_OR_RETURN(auto definitions, registry_.List(project));
    for (const auto& definition : definitions) {
      if (definition.kind == "feature_view" && definition.spec.value("online", true)) {
        names.push_back(definition.name);
      }
    }
  }
  std::vector<MaterializationRun> runs;
  for (const auto& name : names) {
    FALAJ_ASSIGN_OR_RETURN(auto view, registry_.ResolveView(project, name));
    if (!view.view.online) {
      return MakeError(ErrorCode::kFailedPrecondition, "feature view '{}' is not online", name);
    }
    FALAJ_ASSIGN_OR_RETURN(auto run, RunOne(project, view, incremental));
    runs.push_back(std::move(run));
  }
  return runs;
}

Status Materializer::OnIngested(std::string_view project, std::string_view source,
                                const arrow::Table& rows, int64_t dataset_version) {
  FALAJ_ASSIGN_OR_RETURN(auto definitions, registry_.List(project));
  for (const auto& definition : definitions) {
    if (definition.kind != "feature_view" || !definition.spec.value("online", true) ||
        definition.spec.value("source", "") != source) {
      continue;
    }
    FALAJ_ASSIGN_OR_RETURN(auto view, registry_.ResolveView(project, definition.name));
    // A second handle on the same columns: ViewRows appends to a table it shares.
    auto shared = arrow::Table::Make(rows.schema(), rows.columns(), rows.num_rows());
    FALAJ_ASSIGN_OR_RETURN(auto view_rows, ViewRows(view.view, std::move(shared)));
    if (view.view.aggregated()) {
      FALAJ_RETURN_IF_ERROR(MergeAggregateRows(kv_, project, view, *view_rows, dataset_version,
                                               dataset_version, clock_.Now(),
                                               storage::KvWriteMode::kBuffered));
    } else {
      FALAJ_RETURN_IF_ERROR(online_.WriteLatest(project, view, *view_rows, clock_.Now(),
                                                storage::KvWriteMode::kBuffered));
    }
  }
  return Ok();
}

}  // namespace falaj::features
