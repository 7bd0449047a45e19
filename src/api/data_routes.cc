#include "api/data_routes.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "api/residency_routes.h"
#include "api/route_helpers.h"
#include "common/json_fields.h"
#include "data/parquet_io.h"

namespace falaj::api {
namespace {

const std::string kSources = "/api/v1/projects/{project}/sources";
const std::string kDatasets = "/api/v1/projects/{project}/datasets";
const std::string kVersion = kDatasets + "/{dataset}/versions/{version}";

nlohmann::json VersionJson(const data::DatasetVersion& version) {
  return {{"dataset", version.dataset},
          {"version", version.version},
          {"kind", data::DatasetKindName(version.kind)},
          {"schema", data::TableSchemaJson(version.schema)},
          {"rows", version.rows},
          {"sha256", version.sha256},
          {"size_bytes", version.size_bytes},
          {"region", version.region},
          {"profile", version.profile},
          {"validation", version.report},
          {"lineage", version.lineage},
          {"created_by", version.created_by},
          {"created_at", TimeOrNull(version.created_at_ms)}};
}

// "latest" or a positive version number.
Result<int64_t> VersionParam(const HttpRequest& request) {
  const std::string& text = request.PathParam("version");
  if (text == "latest") return 0;
  int64_t version = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (error != std::errc() || end != text.data() + text.size() || version < 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "version '{}' must be a positive number or 'latest'", text.substr(0, 40));
  }
  return version;
}

Result<data::Source> SourceFromBody(const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_ASSIGN_OR_RETURN(auto source, data::ParseSource(body));
  source.project = request.PathParam("project");
  source.created_by = request.principal->subject;
  return source;
}

// The batch's format: ?format= wins, then the Content-Type.
Result<data::BatchFormat> UploadFormat(const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto format, request.QueryParam("format"));
  std::string_view type = request.Header("content-type");
  std::string name = format.value_or("");
  if (name.empty()) {
    if (type.starts_with("text/csv")) name = "csv";
    if (type.starts_with("application/vnd.apache.parquet") ||
        type.starts_with("application/x-parquet")) {
      name = "parquet";
    }
  }
  if (name == "csv") return data::BatchFormat::kCsv;
  if (name == "parquet") return data::BatchFormat::kParquet;
  return MakeError(ErrorCode::kInvalidArgument,
                   "say the file's format: ?format=csv or ?format=parquet, or Content-Type "
                   "text/csv or application/vnd.apache.parquet");
}

Result<HttpResponse> Ingest(data::IngestService& ingest, const HttpRequest& request,
                            data::BatchFormat format) {
  if (request.body.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the request body (the batch) is empty");
  }
  FALAJ_ASSIGN_OR_RETURN(auto outcome, ingest.Ingest({.project = request.PathParam("project"),
                                                      .source = request.PathParam("source"),
                                                      .format = format,
                                                      .body = request.body,
                                                      .principal = request.principal->subject}));
  // A rejected batch is a client problem the body explains; its rows are in quarantine.
  return HttpResponse::Json(outcome.verdict == "rejected" ? 422 : 201,
                            data::IngestOutcomeJson(outcome));
}

Result<HttpResponse> Download(const DataRouteServices& services, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(int64_t number, VersionParam(request));
  FALAJ_ASSIGN_OR_RETURN(auto format, request.QueryParam("format"));
  const std::string name = format.value_or("parquet");
  if (name != "parquet" && name != "csv") {
    return MakeError(ErrorCode::kInvalidArgument, "format '{}' is not csv or parquet", name);
  }
  const std::string& project = request.PathParam("project");
  const std::string& dataset = request.PathParam("dataset");
  FALAJ_ASSIGN_OR_RETURN(auto version, services.datasets.GetVersion(project, dataset, number));
  FALAJ_RETURN_IF_ERROR(CheckOutboundTransfer(services.residency, services.projects, request,
                                              project, version.schema.Classifications()));
  FALAJ_ASSIGN_OR_RETURN(auto parquet,
                         services.datasets.ReadParquetBytes(project, dataset, version.version));
  if (name == "parquet") {
    return HttpResponse::Text(200, "application/vnd.apache.parquet", std::move(parquet));
  }
  FALAJ_ASSIGN_OR_RETURN(auto table, data::ReadParquet(parquet));
  FALAJ_ASSIGN_OR_RETURN(auto csv, data::WriteCsv(*table));
  return HttpResponse::Text(200, "text/csv", std::move(csv));
}

// The source as the API shows it: connector passwords redacted, an MQTT source's live status.
nlohmann::json SourceWithStatus(const DataRouteServices& services, const data::Source& source) {
  nlohmann::json json = SourceJson(source);
  if (source.kind == "mqtt") json["status"] = services.mqtt.Describe(source.project, source.name);
  return json;
}

Result<HttpResponse> ReplaceSource(const DataRouteServices& services, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto source, SourceFromBody(request));
  if (source.name != request.PathParam("source")) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the body's name '{}' differs from the path's '{}'", source.name,
                     request.PathParam("source"));
  }
  FALAJ_ASSIGN_OR_RETURN(auto replaced, services.sources.Replace(source));
  services.mqtt.Refresh(replaced.project, replaced.name);
  return HttpResponse::Json(200, SourceWithStatus(services, replaced));
}

void AddSourceRoutes(std::vector<Route>& routes, const DataRouteServices& services) {
  routes.push_back(WorkerRoute(
      "GET", kSources, "datasets.read", [services](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(auto listed, services.sources.List(request.PathParam("project")));
        nlohmann::json items = nlohmann::json::array();
        for (const auto& source : listed) items.push_back(SourceWithStatus(services, source));
        return HttpResponse::Json(200, {{"sources", items}});
      }));
  routes.push_back(WorkerRoute(
      "POST", kSources, "datasets.write", [services](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(auto source, SourceFromBody(request));
        FALAJ_ASSIGN_OR_RETURN(auto created, services.sources.Create(source));
        services.mqtt.Refresh(created.project, created.name);
        return HttpResponse::Json(201, SourceWithStatus(services, created));
      }));
  routes.push_back(WorkerRoute(
      "GET", kSources + "/{source}", "datasets.read",
      [services](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(auto source, services.sources.Get(request.PathParam("project"),
                                                                 request.PathParam("source")));
        return HttpResponse::Json(200, SourceWithStatus(services, source));
      }));
  routes.push_back(
      WorkerRoute("PUT", kSources + "/{source}", "datasets.write",
                  [services](HttpRequest& request) { return ReplaceSource(services, request); }));
  routes.push_back(WorkerRoute("DELETE", kSources + "/{source}", "datasets.write",
                               [services](HttpRequest& request) -> Result<HttpResponse> {
                                 FALAJ_RETURN_IF_ERROR(services.sources.Delete(
                                     request.PathParam("project"), request.PathParam("source")));
                                 services.mqtt.Refresh(request.PathParam("project"),
                                                       request.PathParam("source"));
                                 return NoContent();
                               }));
  auto& ingest = services.ingest;
  routes.push_back(WorkerRoute("POST", kSources + "/{source}/ingest", "datasets.write",
                               [&ingest](HttpRequest& request) -> Result<HttpResponse> {
                                 FALAJ_ASSIGN_OR_RETURN(auto format, UploadFormat(request));
                                 return Ingest(ingest, request, format);
                               }));
  routes.push_back(WorkerRoute("POST", kSources + "/{source}/push", "datasets.write",
                               [&ingest](HttpRequest& request) {
                                 return Ingest(ingest, request, data::BatchFormat::kJsonRows);
                               }));
  routes.push_back(WorkerRoute("POST", kSources + "/{source}/pull", "datasets.write",
                               [&ingest](HttpRequest& request) -> Result<HttpResponse> {
                                 FALAJ_ASSIGN_OR_RETURN(auto pulled,
                                                        ingest.Pull(request.PathParam("project"),
                                                                    request.PathParam("source"),
                                                                    request.principal->subject));
                                 return HttpResponse::Json(200, data::PullOutcomeJson(pulled));
                               }));
}

void AddDatasetRoutes(std::vector<Route>& routes, const DataRouteServices& services) {
  auto& datasets = services.datasets;
  routes.push_back(WorkerRoute(
      "GET", kDatasets, "datasets.read", [&datasets](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(auto listed, datasets.List(request.PathParam("project")));
        nlohmann::json items = nlohmann::json::array();
        for (const auto& summary : listed) {
          items.push_back({{"name", summary.name},
                           {"kind", data::DatasetKindName(summary.kind)},
                           {"latest_version", summary.latest_version},
                           {"rows", summary.rows},
                           {"updated_at", TimeOrNull(summary.updated_at_ms)}});
        }
        return HttpResponse::Json(200, {{"datasets", items}});
      }));
  routes.push_back(WorkerRoute(
      "GET", kDatasets + "/{dataset}", "datasets.read",
      [&datasets](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(auto versions, datasets.ListVersions(request.PathParam("project"),
                                                                    request.PathParam("dataset")));
        nlohmann::json items = nlohmann::json::array();
        for (const auto& version : versions) {
          auto item = VersionJson(version);
          item.erase("profile");
          items.push_back(std::move(item));
        }
        return HttpResponse::Json(200,
                                  {{"name", request.PathParam("dataset")}, {"versions", items}});
      }));
  routes.push_back(WorkerRoute("DELETE", kDatasets + "/{dataset}", "datasets.write",
                               [&datasets](HttpRequest& request) -> Result<HttpResponse> {
                                 FALAJ_RETURN_IF_ERROR(datasets.Delete(
                                     request.PathParam("project"), request.PathParam("dataset")));
                                 return NoContent();
                               }));
  routes.push_back(WorkerRoute(
      "GET", kVersion, "datasets.read", [&datasets](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(int64_t number, VersionParam(request));
        FALAJ_ASSIGN_OR_RETURN(auto version,
                               datasets.GetVersion(request.PathParam("project"),
                                                   request.PathParam("dataset"), number));
        return HttpResponse::Json(200, VersionJson(version));
      }));
  // Data leaving the server is audited, read or not: who took which version where.
  Route download =
      WorkerRoute("GET", kVersion + "/data", "datasets.read",
                  [services](HttpRequest& request) { return Download(services, request); });
  download.audited = true;
  routes.push_back(std::move(download));
}

}  // namespace

Status AddDataRoutes(Router& router, const DataRouteServices& services) {
  std::vector<Route> routes;
  AddSourceRoutes(routes, services);
  AddDatasetRoutes(routes, services);
  for (auto& route : routes) FALAJ_RETURN_IF_ERROR(router.Add(std::move(route)));
  return Ok();
}

}  // namespace falaj::api
