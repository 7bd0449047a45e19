// The tracking schema and experiments. Runs are in runs.cc, logging in run_logging.cc, search in
// run_search.cc.
#include <nlohmann/json.hpp>

#include "tracking/tracking_store.h"
#include "tracking/tracking_validation.h"

namespace falaj::tracking {
namespace {

constexpr std::string_view kExperimentColumns =
    "SELECT project, experiment_id, name, artifact_location, lifecycle, tags, created_at_ms, "
    "updated_at_ms FROM tracking_experiments";

Experiment ExperimentFromRow(const storage::Row& row) {
  return {row.Text(0),
          std::to_string(row.Int(1)),
          row.Text(2),
          row.Text(3),
          row.Text(4) == "deleted" ? Lifecycle::kDeleted : Lifecycle::kActive,
          nlohmann::json::parse(row.Text(5)).get<std::map<std::string, std::string>>(),
          row.Int(6),
          row.Int(7)};
}

Result<Experiment> FindExperiment(storage::Transaction& tx, std::string_view project,
                                  std::string_view column, storage::SqlValue value,
                                  std::string_view shown) {
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query(fmt::format("{} WHERE project = ? AND {} = ?",
                                                         kExperimentColumns, column),
                                             {std::string(project), std::move(value)}));
  if (rows.empty()) {
    return MakeError(ErrorCode::kNotFound, "experiment {} does not exist", shown.substr(0, 120));
  }
  return ExperimentFromRow(rows.front());
}

// MLflow clients log to experiment "0" ("Default") when none is set, and every MLflow server has
// it; here it is created on first reference, unless the project already uses the name.
Status EnsureDefaultExperiment(storage::Transaction& tx, std::string_view project, int64_t now_ms) {
  FALAJ_ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT 1 FROM tracking_experiments WHERE project = ? AND "
                                  "(experiment_id = 0 OR name = ?)",
                                  {std::string(project), std::string(kDefaultExperimentName)}));
  if (!rows.empty()) return Ok();
  return tx.Run(
      "INSERT INTO tracking_experiments (project, experiment_id, name, artifact_location, "
      "lifecycle, tags, created_at_ms, updated_at_ms) VALUES (?, 0, ?, ?, 'active', '{}', ?, ?)",
      {std::string(project), std::string(kDefaultExperimentName),
       std::string("mlflow-artifacts:/0"), now_ms, now_ms});
}

}  // namespace

TrackingStore::TrackingStore(storage::MetadataStore& store, const Clock& clock)
    : store_(store), clock_(clock) {}

const storage::MigrationSet& TrackingStore::Migrations() {
  static const storage::MigrationSet kSet{
      "tracking",
      {{1, "create experiments, runs, params, tags and metrics",
        "CREATE TABLE tracking_experiments (project TEXT NOT NULL, experiment_id BIGINT NOT "
        "NULL, name TEXT NOT NULL, artifact_location TEXT NOT NULL, lifecycle TEXT NOT NULL, "
        "tags TEXT NOT NULL, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, "
        "PRIMARY KEY (project, experiment_id), UNIQUE (project, name)); "
        "CREATE TABLE tracking_runs (run_id TEXT PRIMARY KEY, project TEXT NOT NULL, "
        "experiment_id BIGINT NOT NULL, name TEXT NOT NULL, user_id TEXT NOT NULL, status TEXT "
        "NOT NULL, start_time_ms BIGINT NOT NULL, end_time_ms BIGINT, lifecycle TEXT NOT NULL, "
        "parent_run_id TEXT NOT NULL, artifact_uri TEXT NOT NULL, metric_seq BIGINT NOT NULL); "
        "CREATE INDEX tracking_runs_experiment ON tracking_runs (project, experiment_id); "
        "CREATE TABLE tracking_params (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT "
        "NULL, PRIMARY KEY (run_id, key)); "
        "CREATE TABLE tracking_tags (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT "
        "NULL, PRIMARY KEY (run_id, key)); "
        // value is NULL for NaN: SQLite cannot store a NaN double.
        "CREATE TABLE tracking_metrics (run_id TEXT NOT NULL, key TEXT NOT NULL, seq BIGINT NOT "
        "NULL, step BIGINT NOT NULL, timestamp_ms BIGINT NOT NULL, value DOUBLE PRECISION, "
        "PRIMARY KEY (run_id, key, seq)); "
        "CREATE TABLE tracking_latest_metrics (run_id TEXT NOT NULL, key TEXT NOT NULL, step "
        "BIGINT NOT NULL, timestamp_ms BIGINT NOT NULL, value DOUBLE PRECISION, PRIMARY KEY "
        "(run_id, key))"},
       // Search walks an experiment's runs in its default order (start_time DESC, run_id), and
       // reads the runs matching a metric condition off the latest values by key. (Metric
       // history sorts one key's points when read: an index in that order would add a third
       // copy of every logged point to the hottest write.)
       {2, "index runs by start time and latest metric values by key",
        "DROP INDEX tracking_runs_experiment; "
        "CREATE INDEX tracking_runs_experiment_start ON tracking_runs (project, experiment_id, "
        "start_time_ms, run_id); "
        "CREATE INDEX tracking_latest_metrics_value ON tracking_latest_metrics (key, value, "
        "run_id)"}}};
  return kSet;
}

Result<int64_t> TrackingStore::CountInProject(storage::Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT COUNT(*) FROM tracking_experiments WHERE project = ?",
                                  {std::string(project)}));
  return rows[0].Int(0);
}

Result<Experiment> TrackingStore::CreateExperiment(std::string_view project, std::string_view name,
                                                   const std::map<std::string, std::string>& tags) {
  FALAJ_RETURN_IF_ERROR(ValidateExperimentName(name));
  for (const auto& [key, value] : tags) FALAJ_RETURN_IF_ERROR(ValidateTag(key, value));
  Experiment experiment{std::string(project), "",   std::string(name),          "",
                        Lifecycle::kActive,   tags, ToUnixMillis(clock_.Now()), 0};
  experiment.last_update_time_ms = experiment.creation_time_ms;
  Status created = store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COALESCE(MAX(experiment_id), 0) + 1 "
                                                   "FROM tracking_experiments WHERE project = ?",
                                                   {experiment.project}));
        int64_t id = rows[0].Int(0);
        experiment.experiment_id = std::to_string(id);
        experiment.artifact_location = "mlflow-artifacts:/" + experiment.experiment_id;
        return tx.Run(
            "INSERT INTO tracking_experiments (project, experiment_id, name, artifact_location, "
            "lifecycle, tags, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            {experiment.project, id, experiment.name, experiment.artifact_location,
             std::string("active"), nlohmann::json(tags).dump(), experiment.creation_time_ms,
             experiment.last_update_time_ms});
      });
  if (!created && created.error().code == ErrorCode::kAlreadyExists) {
    return MakeError(ErrorCode::kAlreadyExists, "experiment '{}' already exists", name);
  }
  if (!created) return std::unexpected(created.error());
  return experiment;
}

Result<Experiment> TrackingStore::GetExperiment(std::string_view project,
                                                std::string_view experiment_id) {
  FALAJ_ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(experiment_id));
  Result<Experiment> found = MakeError(ErrorCode::kInternal, "not read");
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      id == 0 ? storage::TransactionMode::kReadWrite : storage::TransactionMode::kReadOnly,
      [&](storage::Transaction& tx) -> Status {
        if (id == 0) {
          FALAJ_RETURN_IF_ERROR(EnsureDefaultExperiment(tx, project, ToUnixMillis(clock_.Now())));
        }
        found = FindExperiment(tx, project, "experiment_id", id,
                               fmt::format("with id '{}'", experiment_id));
        return Ok();
      }));
  return found;
}

Result<Experiment> TrackingStore::GetExperimentByName(std::string_view project,
                                                      std::string_view name) {
  Result<Experiment> found = MakeError(ErrorCode::kInternal, "not read");
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        found = FindExperiment(tx, project, "name", std::string(name),
                               fmt::format("'{}'", name.substr(0, 120)));
        return Ok();
      }));
  return found;
}

Result<std::vector<Experiment>> TrackingStore::ListExperiments(std::string_view project,
                                                               ViewType view) {
  std::string sql = std::string(kExperimentColumns) + " WHERE project = ?";
  if (view == ViewType::kActiveOnly) sql += " AND lifecycle = 'active'";
  if (view == ViewType::kDeletedOnly) sql += " AND lifecycle = 'deleted'";
  std::vector<Experiment> experiments;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows,
                               tx.Query(sql + " ORDER BY experiment_id", {std::string(project)}));
        for (const auto& row : rows) experiments.push_back(ExperimentFromRow(row));
        return Ok();
      }));
  return experiments;
}

namespace {

// Applies `change` to the stored experiment and writes name, lifecycle, tags and update time.
template <typename Change>
Status ModifyExperiment(storage::MetadataStore& store, const Clock& clock, std::string_view project,
                        std::string_view experiment_id, Change&& change) {
  FALAJ_ASSIGN_OR_RETURN(int64_t id, ParseExperimentId(experiment_id));
  return store.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto experiment,
                               FindExperiment(tx, project, "experiment_id", id,
                                              fmt::format("with id '{}'", experiment_id)));
        FALAJ_RETURN_IF_ERROR(change(experiment));
        return tx.Run(
            "UPDATE tracking_experiments SET name = ?, lifecycle = ?, tags = ?, updated_at_ms = "
            "? WHERE project = ? AND experiment_id = ?",
            {experiment.name, std::string(LifecycleName(experiment.lifecycle)),
             nlohmann::json(experiment.tags).dump(), ToUnixMillis(clock.Now()),
             std::string(project), id});
      });
}

}  // namespace

Status TrackingStore::RenameExperiment(std::string_view project, std::string_view experiment_id,
                                       std::string_view new_name) {
  FALAJ_RETURN_IF_ERROR(ValidateExperimentName(new_name));
  Status renamed =
      ModifyExperiment(store_, clock_, project, experiment_id, [&](Experiment& experiment) {
        experiment.name = std::string(new_name);
        return Ok();
      });
  if (!renamed && renamed.error().code == ErrorCode::kAlreadyExists) {
    return MakeError(ErrorCode::kAlreadyExists, "experiment '{}' already exists", new_name);
  }
  return renamed;
}

Status TrackingStore::SetExperimentLifecycle(std::string_view project,
                                             std::string_view experiment_id, Lifecycle lifecycle) {
  return ModifyExperiment(store_, clock_, project, experiment_id, [&](Experiment& experiment) {
    experiment.lifecycle = lifecycle;
    return Ok();
  });
}

Status TrackingStore::SetExperimentTag(std::string_view project, std::string_view experiment_id,
                                       std::string_view key, std::string_view value) {
  FALAJ_RETURN_IF_ERROR(ValidateTag(key, value));
  return ModifyExperiment(store_, clock_, project, experiment_id, [&](Experiment& experiment) {
    experiment.tags[std::string(key)] = std::string(value);
    return Ok();
  });
}

}  // namespace falaj::tracking
