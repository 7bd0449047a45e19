#include "tracking/logged_models.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/random.h"
#include "tracking/tracking_validation.h"

namespace falaj::tracking {
namespace {

constexpr std::string_view kColumns =
    "SELECT project, model_id, experiment_id, name, model_type, source_run_id, status, "
    "status_message, artifact_location, creator, tags, params, created_at_ms, updated_at_ms "
    "FROM tracking_logged_models";
constexpr size_t kMaxTags = 100;
constexpr size_t kMaxParams = 1000;

LoggedModel FromRow(const storage::Row& row) {
  LoggedModel model;
  model.project = row.Text(0);
  model.model_id = row.Text(1);
  model.experiment_id = row.Text(2);
  model.name = row.Text(3);
  model.model_type = row.Text(4);
  model.source_run_id = row.Text(5);
  model.status = row.Text(6);
  model.status_message = row.Text(7);
  model.artifact_location = row.Text(8);
  model.creator = row.Text(9);
  model.tags = nlohmann::json::parse(row.Text(10)).get<std::map<std::string, std::string>>();
  model.params = nlohmann::json::parse(row.Text(11)).get<std::map<std::string, std::string>>();
  model.created_at_ms = row.Int(12);
  model.updated_at_ms = row.Int(13);
  return model;
}

Status CheckEntries(const std::map<std::string, std::string>& entries, std::string_view what,
                    size_t limit) {
  if (entries.size() > limit) {
    return MakeError(ErrorCode::kInvalidArgument, "a logged model has at most {} {}", limit, what);
  }
  for (const auto& [key, value] : entries) {
    if (key.empty() || key.size() > 250) {
      return MakeError(ErrorCode::kInvalidArgument, "{} keys must be 1 to 250 bytes", what);
    }
    if (value.size() > 8000) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "the value of {} '{}' is longer than 8000 bytes", what, key.substr(0, 80));
    }
  }
  return Ok();
}

// The status of a change whose resulting model the caller does not need.
Status Discard(const Result<LoggedModel>& changed) {
  if (!changed) return std::unexpected(changed.error());
  return Ok();
}

}  // namespace

LoggedModelStore::LoggedModelStore(storage::MetadataStore& store, const Clock& clock)
    : store_(store), clock_(clock) {}

const storage::MigrationSet& LoggedModelStore::Migrations() {
  static const storage::MigrationSet kSet{
      "tracking_logged_models",
      {{1, "create logged models and run outputs",
        "CREATE TABLE tracking_logged_models (project TEXT NOT NULL, model_id TEXT NOT NULL, "
        "experiment_id TEXT NOT NULL, name TEXT NOT NULL, model_type TEXT NOT NULL, "
        "source_run_id TEXT NOT NULL, status TEXT NOT NULL, status_message TEXT NOT NULL, "
        "artifact_location TEXT NOT NULL, creator TEXT NOT NULL, tags TEXT NOT NULL, params TEXT "
        "NOT NULL, created_at_ms BIGINT NOT NULL, updated_at_ms BIGINT NOT NULL, PRIMARY KEY "
        "(project, model_id)); "
        "CREATE TABLE tracking_run_outputs (project TEXT NOT NULL, run_id TEXT NOT NULL, "
        "model_id TEXT NOT NULL, step BIGINT NOT NULL, PRIMARY KEY (project, run_id, model_id))"}}};
  return kSet;
}

Result<LoggedModel> LoggedModelStore::Create(LoggedModel model,
                                             std::string_view experiment_artifact_location) {
  FALAJ_RETURN_IF_ERROR(CheckEntries(model.tags, "tags", kMaxTags));
  FALAJ_RETURN_IF_ERROR(CheckEntries(model.params, "params", kMaxParams));
  if (model.name.size() > 250 || model.model_type.size() > 250) {
    return MakeError(ErrorCode::kInvalidArgument, "name and model_type must be at most 250 bytes");
  }
  model.model_id = "m-" + RandomHex(16);
  if (model.name.empty()) model.name = model.model_id;
  model.status = "PENDING";
  model.artifact_location =
      std::string(experiment_artifact_location) + "/models/" + model.model_id + "/artifacts";
  model.created_at_ms = model.updated_at_ms = ToUnixMillis(clock_.Now());
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(
            "INSERT INTO tracking_logged_models (project, model_id, experiment_id, name, "
            "model_type, source_run_id, status, status_message, artifact_location, creator, tags, "
            "params, created_at_ms, updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?)",
            {model.project, model.model_id, model.experiment_id, model.name, model.model_type,
             model.source_run_id, model.status, model.status_message, model.artifact_location,
             model.creator, nlohmann::json(model.tags).dump(), nlohmann::json(model.params).dump(),
             model.created_at_ms, model.updated_at_ms});
      }));
  return model;
}

Result<LoggedModel> LoggedModelStore::Get(std::string_view project, std::string_view model_id) {
  return Change(project, model_id, nullptr);
}

Result<LoggedModel> LoggedModelStore::Change(std::string_view project, std::string_view model_id,
                                             const std::function<Status(LoggedModel&)>& change) {
  LoggedModel model;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      change ? storage::TransactionMode::kReadWrite : storage::TransactionMode::kReadOnly,
      [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query(std::string(kColumns) + " WHERE project = ? AND "
                                                                           "model_id = ?",
                                                   {std::string(project), std::string(model_id)}));
        if (rows.empty()) {
          return MakeError(ErrorCode::kNotFound, "logged model '{}' does not exist",
                           model_id.substr(0, 80));
        }
        model = FromRow(rows.front());
        if (!change) return Ok();
        FALAJ_RETURN_IF_ERROR(change(model));
        model.updated_at_ms = ToUnixMillis(clock_.Now());
        return tx.Run(
            "UPDATE tracking_logged_models SET status = ?, tags = ?, params = ?, updated_at_ms = "
            "? WHERE project = ? AND model_id = ?",
            {model.status, nlohmann::json(model.tags).dump(), nlohmann::json(model.params).dump(),
             model.updated_at_ms, model.project, model.model_id});
      }));
  return model;
}

Result<LoggedModel> LoggedModelStore::Finalize(std::string_view project, std::string_view model_id,
                                               std::string_view status) {
  if (status != "READY" && status != "FAILED") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a logged model is finalized as LOGGED_MODEL_READY or "
                     "LOGGED_MODEL_UPLOAD_FAILED");
  }
  return Change(project, model_id, [&](LoggedModel& model) -> Status {
    model.status = status;
    return Ok();
  });
}

Status LoggedModelStore::SetTags(std::string_view project, std::string_view model_id,
                                 const std::map<std::string, std::string>& tags) {
  return Discard(Change(project, model_id, [&](LoggedModel& model) -> Status {
    for (const auto& [key, value] : tags) model.tags[key] = value;
    return CheckEntries(model.tags, "tags", kMaxTags);
  }));
}

Status LoggedModelStore::DeleteTag(std::string_view project, std::string_view model_id,
                                   std::string_view key) {
  return Discard(Change(project, model_id, [&](LoggedModel& model) -> Status {
    if (model.tags.erase(std::string(key)) == 0) {
      return MakeError(ErrorCode::kNotFound, "logged model '{}' has no tag '{}'",
                       model_id.substr(0, 80), key.substr(0, 80));
    }
    return Ok();
  }));
}

Status LoggedModelStore::LogParams(std::string_view project, std::string_view model_id,
                                   const std::map<std::string, std::string>& params) {
  return Discard(Change(project, model_id, [&](LoggedModel& model) -> Status {
    for (const auto& [key, value] : params) model.params[key] = value;
    return CheckEntries(model.params, "params", kMaxParams);
  }));
}

Status LoggedModelStore::Delete(std::string_view project, std::string_view model_id) {
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto deleted,
                               tx.Execute("DELETE FROM tracking_logged_models WHERE project = ? "
                                          "AND model_id = ?",
                                          {std::string(project), std::string(model_id)}));
        if (deleted == 0) {
          return MakeError(ErrorCode::kNotFound, "logged model '{}' does not exist",
                           model_id.substr(0, 80));
        }
        return Ok();
      });
}

Result<LoggedModelPage> LoggedModelStore::Search(std::string_view project,
                                                 const std::vector<std::string>& experiment_ids,
                                                 size_t max_results, std::string_view page_token) {
  FALAJ_ASSIGN_OR_RETURN(size_t offset, DecodePageToken(page_token));
  std::vector<LoggedModel> all;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows,
                               tx.Query(std::string(kColumns) + " WHERE project = ? ORDER BY "
                                                                "created_at_ms DESC, model_id",
                                        {std::string(project)}));
        for (const auto& row : rows) {
          LoggedModel model = FromRow(row);
          if (experiment_ids.empty() || std::find(experiment_ids.begin(), experiment_ids.end(),
                                                  model.experiment_id) != experiment_ids.end()) {
            all.push_back(std::move(model));
          }
        }
        return Ok();
      }));
  LoggedModelPage page;
  for (size_t i = offset; i < all.size() && i < offset + max_results; ++i) {
    page.models.push_back(std::move(all[i]));
  }
  if (offset + max_results < all.size())
    page.next_page_token = EncodePageToken(offset + max_results);
  return page;
}

Status LoggedModelStore::LogOutput(std::string_view project, std::string_view run_id,
                                   std::string_view model_id, int64_t step) {
  FALAJ_RETURN_IF_ERROR(Discard(Get(project, model_id)));
  return store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        return tx.Run(
            "INSERT INTO tracking_run_outputs (project, run_id, model_id, step) VALUES (?, ?, ?, "
            "?) ON CONFLICT (project, run_id, model_id) DO UPDATE SET step = excluded.step",
            {std::string(project), std::string(run_id), std::string(model_id), step});
      });
}

}  // namespace falaj::tracking
