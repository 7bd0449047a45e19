// Run lifecycle: create, read, update, delete and restore.
#include "common/random.h"
#include "tracking/run_rows.h"
#include "tracking/tracking_store.h"
#include "tracking/tracking_validation.h"

namespace falaj::tracking {

Result<Run> TrackingStore::LoadRun(storage::Transaction& tx, std::string_view project,
                                   std::string_view run_id) {
  FALAJ_RETURN_IF_ERROR(ValidateRunId(run_id));
  FALAJ_ASSIGN_OR_RETURN(auto rows,
                         tx.Query(std::string(kRunColumns) + " WHERE run_id = ? AND project = ?",
                                  {std::string(run_id), std::string(project)}));
  if (rows.empty()) return MakeError(ErrorCode::kNotFound, "run '{}' does not exist", run_id);
  Run run;
  run.info = RunInfoFromRow(rows.front());
  FALAJ_ASSIGN_OR_RETURN(auto params, tx.Query("SELECT key, value FROM tracking_params WHERE "
                                               "run_id = ?",
                                               {std::string(run_id)}));
  for (const auto& row : params) run.params.emplace(row.Text(0), row.Text(1));
  FALAJ_ASSIGN_OR_RETURN(auto tags, tx.Query("SELECT key, value FROM tracking_tags WHERE "
                                             "run_id = ?",
                                             {std::string(run_id)}));
  for (const auto& row : tags) run.tags.emplace(row.Text(0), row.Text(1));
  FALAJ_ASSIGN_OR_RETURN(auto metrics,
                         tx.Query("SELECT key, value, timestamp_ms, step FROM "
                                  "tracking_latest_metrics WHERE run_id = ? ORDER BY key",
                                  {std::string(run_id)}));
  for (const auto& row : metrics) {
    run.latest_metrics.push_back({row.Text(0), MetricValueFromRow(row, 1), row.Int(2), row.Int(3)});
  }
  return run;
}

Result<Run> TrackingStore::CreateRun(std::string_view project, NewRun new_run) {
  for (const auto& [key, value] : new_run.tags) {
    FALAJ_RETURN_IF_ERROR(ValidateTag(key, value, kMaxTagValueBytes));
  }
  if (new_run.run_name.empty()) {
    auto named = new_run.tags.find(kRunNameTag);
    if (named != new_run.tags.end()) new_run.run_name = named->second;
  }
  FALAJ_ASSIGN_OR_RETURN(auto experiment, GetExperiment(project, new_run.experiment_id));
  if (experiment.lifecycle != Lifecycle::kActive) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "experiment {} is deleted; restore it to create runs in it",
                     experiment.experiment_id);
  }
  Run run;
  run.info.run_id = RandomHex(16);
  run.info.experiment_id = experiment.experiment_id;
  run.info.run_name =
      new_run.run_name.empty() ? "run-" + run.info.run_id.substr(0, 8) : new_run.run_name;
  run.info.user_id = new_run.user_id;
  run.info.start_time_ms = new_run.start_time_ms.value_or(ToUnixMillis(clock_.Now()));
  run.info.artifact_uri = experiment.artifact_location + "/" + run.info.run_id + "/artifacts";
  run.tags = std::move(new_run.tags);
  run.tags[kRunNameTag] = run.info.run_name;
  if (auto parent = run.tags.find(kParentRunTag); parent != run.tags.end()) {
    run.info.parent_run_id = parent->second;
  }
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_RETURN_IF_ERROR(tx.Run(
            "INSERT INTO tracking_runs (run_id, project, experiment_id, name, user_id, status, "
            "start_time_ms, end_time_ms, lifecycle, parent_run_id, artifact_uri, metric_seq) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'active', ?, ?, 0)",
            {run.info.run_id, std::string(project), std::stoll(run.info.experiment_id),
             run.info.run_name, run.info.user_id, run.info.status, run.info.start_time_ms,
             run.info.parent_run_id, run.info.artifact_uri}));
        for (const auto& [key, value] : run.tags) {
          FALAJ_RETURN_IF_ERROR(
              tx.Run("INSERT INTO tracking_tags (run_id, key, value) VALUES (?, ?, ?)",
                     {run.info.run_id, key, value}));
        }
        return Ok();
      }));
  return run;
}

Result<Run> TrackingStore::GetRun(std::string_view project, std::string_view run_id) {
  Result<Run> run = MakeError(ErrorCode::kInternal, "not read");
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(storage::TransactionMode::kReadOnly,
                                              [&](storage::Transaction& tx) -> Status {
                                                run = LoadRun(tx, project, run_id);
                                                return Ok();
                                              }));
  return run;
}

Result<RunInfo> TrackingStore::UpdateRun(std::string_view project, std::string_view run_id,
                                         RunUpdate update) {
  if (update.status && !IsRunStatus(*update.status)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "status '{}' is not one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED",
                     update.status->substr(0, 40));
  }
  RunInfo info;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto run, LoadRun(tx, project, run_id));
        if (run.info.lifecycle != Lifecycle::kActive) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "run '{}' is deleted; restore it before updating it", run_id);
        }
        info = std::move(run.info);
        if (update.status) info.status = *update.status;
        if (update.end_time_ms) info.end_time_ms = update.end_time_ms;
        if (update.run_name && !update.run_name->empty()) {
          info.run_name = *update.run_name;
          FALAJ_RETURN_IF_ERROR(tx.Run("DELETE FROM tracking_tags WHERE run_id = ? AND key = ?",
                                       {info.run_id, std::string(kRunNameTag)}));
          FALAJ_RETURN_IF_ERROR(
              tx.Run("INSERT INTO tracking_tags (run_id, key, value) VALUES (?, ?, ?)",
                     {info.run_id, std::string(kRunNameTag), info.run_name}));
        }
        storage::SqlValue end = nullptr;
        if (info.end_time_ms) end = *info.end_time_ms;
        return tx.Run(
            "UPDATE tracking_runs SET status = ?, end_time_ms = ?, name = ? WHERE "
            "run_id = ?",
            {info.status, end, info.run_name, info.run_id});
      }));
  return info;
}

Status TrackingStore::SetRunLifecycle(std::string_view project, std::string_view run_id,
                                      Lifecycle lifecycle) {
  FALAJ_RETURN_IF_ERROR(ValidateRunId(run_id));
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto changed, tx.Execute("UPDATE tracking_runs SET lifecycle = ? WHERE run_id = ? "
                                     "AND project = ?",
                                     {std::string(LifecycleName(lifecycle)), std::string(run_id),
                                      std::string(project)}));
        if (changed == 0) {
          return MakeError(ErrorCode::kNotFound, "run '{}' does not exist", run_id);
        }
        return Ok();
      });
}

}  // namespace falaj::tracking
