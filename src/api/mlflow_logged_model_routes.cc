// MLflow 3 logged models over LoggedModelStore: create, get, finalize (PATCH), delete, search,
// tags, params; and runs/outputs, with which the client links a run to the models it logged.
// A model's files are uploaded by the client through the artifact API to the model's
// artifact_uri (mlflow-artifacts:/<experiment>/models/<id>/artifacts).
#include <limits>

#include "api/mlflow_codec.h"
#include "api/mlflow_routes.h"

namespace falaj::api {
namespace {

using mlflow::Fields;

constexpr size_t kMaxSearchResults = 1000;

std::string_view WireStatus(std::string_view status) {
  if (status == "READY") return "LOGGED_MODEL_READY";
  if (status == "FAILED") return "LOGGED_MODEL_UPLOAD_FAILED";
  return "LOGGED_MODEL_PENDING";
}

nlohmann::json LoggedModelJson(const tracking::LoggedModel& model) {
  nlohmann::json info = {{"model_id", model.model_id},
                         {"experiment_id", model.experiment_id},
                         {"name", model.name},
                         {"artifact_uri", model.artifact_location},
                         {"creation_timestamp_ms", model.created_at_ms},
                         {"last_updated_timestamp_ms", model.updated_at_ms},
                         {"status", WireStatus(model.status)},
                         {"tags", mlflow::KeyValuesJson(model.tags)}};
  if (!model.model_type.empty()) info["model_type"] = model.model_type;
  if (!model.source_run_id.empty()) info["source_run_id"] = model.source_run_id;
  if (!model.status_message.empty()) info["status_message"] = model.status_message;
  return {
      {"info", info},
      {"data",
       {{"params", mlflow::KeyValuesJson(model.params)}, {"metrics", nlohmann::json::array()}}}};
}

const std::string& Project(const HttpRequest& request) { return request.PathParam("project"); }

Result<std::map<std::string, std::string>> KeyValueMap(const Fields& fields,
                                                       std::string_view name) {
  FALAJ_ASSIGN_OR_RETURN(auto pairs, fields.KeyValues(name));
  return std::map<std::string, std::string>(pairs.begin(), pairs.end());
}

Result<nlohmann::json> Create(const MlflowServices& s, const Fields& fields, HttpRequest& request) {
  tracking::LoggedModel model;
  model.project = Project(request);
  FALAJ_ASSIGN_OR_RETURN(model.experiment_id, fields.RequiredString("experiment_id"));
  FALAJ_ASSIGN_OR_RETURN(auto name, fields.String("name"));
  FALAJ_ASSIGN_OR_RETURN(auto type, fields.String("model_type"));
  FALAJ_ASSIGN_OR_RETURN(auto run_id, fields.String("source_run_id"));
  FALAJ_ASSIGN_OR_RETURN(model.tags, KeyValueMap(fields, "tags"));
  FALAJ_ASSIGN_OR_RETURN(model.params, KeyValueMap(fields, "params"));
  model.name = name.value_or("");
  model.model_type = type.value_or("");
  model.source_run_id = run_id.value_or("");
  model.creator = request.principal ? request.principal->subject : "";
  FALAJ_ASSIGN_OR_RETURN(auto experiment,
                         s.tracking.GetExperiment(model.project, model.experiment_id));
  if (!model.source_run_id.empty()) {
    FALAJ_ASSIGN_OR_RETURN(auto run, s.tracking.GetRun(model.project, model.source_run_id));
    if (run.info.experiment_id != model.experiment_id) {
      return MakeError(ErrorCode::kInvalidArgument, "run '{}' is not in experiment '{}'",
                       model.source_run_id, model.experiment_id);
    }
  }
  FALAJ_ASSIGN_OR_RETURN(auto created,
                         s.logged_models.Create(std::move(model), experiment.artifact_location));
  return nlohmann::json{{"model", LoggedModelJson(created)}};
}

Result<nlohmann::json> Get(const MlflowServices& s, const Fields&, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto model,
                         s.logged_models.Get(Project(request), request.PathParam("model_id")));
  return nlohmann::json{{"model", LoggedModelJson(model)}};
}

Result<nlohmann::json> Finalize(const MlflowServices& s, const Fields& fields,
                                HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto status, fields.RequiredString("status"));
  std::string plain = status == "LOGGED_MODEL_READY"           ? "READY"
                      : status == "LOGGED_MODEL_UPLOAD_FAILED" ? "FAILED"
                                                               : status;
  FALAJ_ASSIGN_OR_RETURN(
      auto model, s.logged_models.Finalize(Project(request), request.PathParam("model_id"), plain));
  return nlohmann::json{{"model", LoggedModelJson(model)}};
}

Result<nlohmann::json> Delete(const MlflowServices& s, const Fields&, HttpRequest& request) {
  FALAJ_RETURN_IF_ERROR(s.logged_models.Delete(Project(request), request.PathParam("model_id")));
  return nlohmann::json::object();
}

Result<nlohmann::json> Search(const MlflowServices& s, const Fields& fields, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto experiment_ids, fields.Strings("experiment_ids"));
  FALAJ_ASSIGN_OR_RETURN(auto filter, fields.String("filter"));
  FALAJ_ASSIGN_OR_RETURN(auto paging, mlflow::ReadPaging(fields, 100, kMaxSearchResults));
  FALAJ_ASSIGN_OR_RETURN(
      auto wanted, mlflow::ParseEqualityFilter(filter.value_or(""), {"name", "source_run_id"}));
  FALAJ_ASSIGN_OR_RETURN(auto page, s.logged_models.Search(Project(request), experiment_ids,
                                                           std::numeric_limits<size_t>::max(), ""));
  std::erase_if(page.models, [&](const tracking::LoggedModel& model) {
    return (wanted.contains("name") && model.name != wanted["name"]) ||
           (wanted.contains("source_run_id") && model.source_run_id != wanted["source_run_id"]);
  });
  return mlflow::PageJson(page.models, paging, "models",
                          [](const tracking::LoggedModel& model) -> Result<nlohmann::json> {
                            return LoggedModelJson(model);
                          });
}

Result<nlohmann::json> SetTags(const MlflowServices& s, const Fields& fields,
                               HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto tags, KeyValueMap(fields, "tags"));
  FALAJ_RETURN_IF_ERROR(
      s.logged_models.SetTags(Project(request), request.PathParam("model_id"), tags));
  return nlohmann::json::object();
}

Result<nlohmann::json> DeleteTag(const MlflowServices& s, const Fields&, HttpRequest& request) {
  FALAJ_RETURN_IF_ERROR(s.logged_models.DeleteTag(Project(request), request.PathParam("model_id"),
                                                  request.PathParam("tag_key")));
  return nlohmann::json::object();
}

Result<nlohmann::json> LogParams(const MlflowServices& s, const Fields& fields,
                                 HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto params, KeyValueMap(fields, "params"));
  FALAJ_RETURN_IF_ERROR(
      s.logged_models.LogParams(Project(request), request.PathParam("model_id"), params));
  return nlohmann::json::object();
}

Result<nlohmann::json> LogOutputs(const MlflowServices& s, const Fields& fields,
                                  HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto run_id, fields.RunId());
  FALAJ_ASSIGN_OR_RETURN(auto run, s.tracking.GetRun(Project(request), run_id));
  const std::string body_text = request.body;
  auto body = nlohmann::json::parse(body_text, nullptr, false);
  auto models =
      body.is_object() ? body.value("models", nlohmann::json::array()) : nlohmann::json::array();
  if (!models.is_array() || models.size() > 100) {
    return MakeError(ErrorCode::kInvalidArgument, "'models' must be an array of at most 100");
  }
  for (const auto& output : models) {
    if (!output.is_object() || !output.contains("model_id") || !output["model_id"].is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, "each output needs a string 'model_id'");
    }
    int64_t step = output.value("step", nlohmann::json(0)).is_number_integer()
                       ? output.value("step", int64_t{0})
                       : 0;
    FALAJ_RETURN_IF_ERROR(s.logged_models.LogOutput(Project(request), run.info.run_id,
                                                    output["model_id"].get<std::string>(), step));
  }
  return nlohmann::json::object();
}

}  // namespace

Status AddMlflowLoggedModelRoutes(Router& router, const MlflowServices& services) {
  const std::string one = "/logged-models/{model_id}";
  const std::string read = "runs.read";
  const std::string write = "runs.write";
  return AddMlflowEndpoints(router, services,
                            {{"POST", "/logged-models", write, true, Create},
                             {"POST", "/logged-models/search", read, false, Search},
                             {"GET", one, read, false, Get},
                             {"PATCH", one, write, true, Finalize},
                             {"DELETE", one, write, true, Delete},
                             {"PATCH", one + "/tags", write, true, SetTags},
                             {"DELETE", one + "/tags/{tag_key}", write, true, DeleteTag},
                             {"POST", one + "/params", write, true, LogParams},
                             {"POST", "/runs/outputs", write, true, LogOutputs}});
}

}  // namespace falaj::api
