// MLflow's proxied artifact API (what the client's mlflow-artifacts repository calls):
//   PUT    {prefix}/{path}  upload one file (the body is the file)
//   GET    {prefix}/{path}  download one file
//   DELETE {prefix}/{path}  delete a file or everything below a directory
//   GET    {prefix}?path=   list one directory level: {"files": [{path, is_dir, file_size}]}
// Bytes go to the project's encrypted, content-addressed blob store; the ArtifactIndex maps paths
// to digests. Paths under "_registry/" are the frozen file sets of registered model versions:
// readable, never written through this API.
#include "api/mlflow_codec.h"
#include "api/mlflow_routes.h"

namespace falaj::api {
namespace {

constexpr std::string_view kRegistryArea = "_registry";

bool InRegistryArea(std::string_view path) {
  return path == kRegistryArea ||
         (path.starts_with(kRegistryArea) && path[kRegistryArea.size()] == '/');
}

Status RefuseRegistryArea(std::string_view path) {
  if (!InRegistryArea(path)) return Ok();
  return MakeError(ErrorCode::kInvalidArgument,
                   "artifacts under '{}/' are the files of registered model versions and cannot "
                   "be changed; register a new version instead",
                   kRegistryArea);
}

// A route whose body answers any HttpResponse (downloads are bytes, not JSON); errors in MLflow's
// shape.
Route RawRoute(std::string method, std::string pattern, std::string permission,
               std::function<Result<HttpResponse>(HttpRequest&)> body) {
  Route route;
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.permission = std::move(permission);
  route.execution = Execution::kWorker;
  route.handler = [body = std::move(body)](HttpRequest& request) {
    Result<HttpResponse> answer = body(request);
    if (!answer) return mlflow::ErrorResponse(answer.error());
    return std::move(*answer);
  };
  return route;
}

Result<HttpResponse> Upload(const MlflowServices& services, HttpRequest& request) {
  const std::string& project = request.PathParam("project");
  const std::string& path = request.PathParam("path");
  FALAJ_RETURN_IF_ERROR(tracking::ArtifactIndex::ValidatePath(path));
  FALAJ_RETURN_IF_ERROR(RefuseRegistryArea(path));
  FALAJ_ASSIGN_OR_RETURN(auto blobs, services.blobs(project));
  // The blob is written (and made durable) before the index points at it, so a crash in between
  // leaves an unreferenced blob, never an index entry without bytes.
  FALAJ_ASSIGN_OR_RETURN(auto digest, blobs->Put(request.body));
  FALAJ_RETURN_IF_ERROR(services.artifact_index.Put(project, path, digest, request.body.size()));
  return HttpResponse::Json(200, nlohmann::json::object());
}

Result<HttpResponse> Download(const MlflowServices& services, HttpRequest& request) {
  const std::string& project = request.PathParam("project");
  FALAJ_ASSIGN_OR_RETURN(auto entry,
                         services.artifact_index.Get(project, request.PathParam("path")));
  FALAJ_ASSIGN_OR_RETURN(auto blobs, services.blobs(project));
  FALAJ_ASSIGN_OR_RETURN(auto bytes, blobs->Get(entry.sha256));
  HttpResponse response = HttpResponse::Text(200, "application/octet-stream", std::move(bytes));
  response.headers.emplace_back("X-Content-SHA256", entry.sha256);
  return response;
}

Result<HttpResponse> Remove(const MlflowServices& services, HttpRequest& request) {
  const std::string& path = request.PathParam("path");
  FALAJ_RETURN_IF_ERROR(tracking::ArtifactIndex::ValidatePath(path));
  FALAJ_RETURN_IF_ERROR(RefuseRegistryArea(path));
  FALAJ_ASSIGN_OR_RETURN(auto deleted,
                         services.artifact_index.Delete(request.PathParam("project"), path));
  if (deleted == 0) {
    return MakeError(ErrorCode::kNotFound, "artifact '{}' does not exist", path.substr(0, 120));
  }
  return HttpResponse::Json(200, nlohmann::json::object());
}

Result<HttpResponse> List(const MlflowServices& services, HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto path, request.QueryParam("path"));
  std::string directory = path.value_or("");
  while (!directory.empty() && directory.back() == '/') directory.pop_back();
  FALAJ_ASSIGN_OR_RETURN(auto listing,
                         services.artifact_index.List(request.PathParam("project"), directory));
  nlohmann::json files = nlohmann::json::array();
  for (const auto& item : listing) {
    nlohmann::json file = {{"path", item.name}, {"is_dir", item.is_dir}};
    if (!item.is_dir) file["file_size"] = item.size;
    files.push_back(std::move(file));
  }
  return HttpResponse::Json(200, {{"files", files}});
}

}  // namespace

Status AddMlflowArtifactRoutes(Router& router, const MlflowServices& services) {
  using Body = Result<HttpResponse> (*)(const MlflowServices&, HttpRequest&);
  struct Entry {
    std::string method;
    std::string pattern;
    std::string permission;
    Body body;
  };
  const std::string file = kMlflowArtifactsPrefix + "/{path+}";
  for (const auto& entry : std::vector<Entry>{{"PUT", file, "runs.write", Upload},
                                              {"GET", file, "runs.read", Download},
                                              {"DELETE", file, "runs.write", Remove},
                                              {"GET", kMlflowArtifactsPrefix, "runs.read", List}}) {
    FALAJ_RETURN_IF_ERROR(router.Add(RawRoute(
        entry.method, entry.pattern, entry.permission,
        [services, body = entry.body](HttpRequest& request) { return body(services, request); })));
  }
  return Ok();
}

}  // namespace falaj::api
