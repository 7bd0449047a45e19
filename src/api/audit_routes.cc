#include "api/audit_routes.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "api/route_helpers.h"

namespace falaj::api {
namespace {

Result<std::optional<int64_t>> IntegerParam(const HttpRequest& request, std::string_view name) {
  FALAJ_ASSIGN_OR_RETURN(auto text, request.QueryParam(name));
  if (!text) return std::optional<int64_t>();
  int64_t value = 0;
  auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size()) {
    return MakeError(ErrorCode::kInvalidArgument, "query parameter '{}' must be an integer", name);
  }
  return std::optional<int64_t>(value);
}

Result<security::AuditQuery> ParseQuery(const HttpRequest& request) {
  security::AuditQuery query;
  FALAJ_ASSIGN_OR_RETURN(query.from_ms, IntegerParam(request, "from_ms"));
  FALAJ_ASSIGN_OR_RETURN(query.to_ms, IntegerParam(request, "to_ms"));
  FALAJ_ASSIGN_OR_RETURN(query.principal, request.QueryParam("principal"));
  FALAJ_ASSIGN_OR_RETURN(query.resource_prefix, request.QueryParam("resource_prefix"));
  FALAJ_ASSIGN_OR_RETURN(auto limit, IntegerParam(request, "limit"));
  if (limit) {
    if (*limit < 1 || *limit > security::AuditLog::kMaxQueryLimit) {
      return MakeError(ErrorCode::kInvalidArgument, "query parameter 'limit' must be 1 to {}",
                       security::AuditLog::kMaxQueryLimit);
    }
    query.limit = static_cast<int>(*limit);
  }
  const std::string& project = request.PathParam("project");
  if (!project.empty()) {
    // A project's auditors see only records about that project, whatever prefix they ask for:
    // its REST resources and its MLflow-compatible tracking API.
    query.resource_scopes = {"/api/v1/projects/" + project, "/mlflow/projects/" + project};
  }
  return query;
}

nlohmann::json RecordJson(const security::AuditRecord& record) {
  return {{"time", TimeOrNull(record.time_ms)},
          {"time_ms", record.time_ms},
          {"request_id", record.request_id},
          {"principal", record.principal},
          {"action", record.action},
          {"method", record.method},
          {"resource", record.resource},
          {"status", record.status},
          {"source", record.source},
          {"outcome", record.outcome}};
}

HttpResponse ListRecords(security::AuditLog& audit, HttpRequest& request) {
  return Answer(request, [&]() -> Result<HttpResponse> {
    FALAJ_ASSIGN_OR_RETURN(auto query, ParseQuery(request));
    FALAJ_ASSIGN_OR_RETURN(auto records, audit.Query(query));
    nlohmann::json items = nlohmann::json::array();
    for (const auto& record : records) items.push_back(RecordJson(record));
    return HttpResponse::Json(200, {{"records", items}});
  });
}

}  // namespace

Status AddAuditRoutes(Router& router, security::AuditLog& audit, std::string public_key_raw) {
  FALAJ_RETURN_IF_ERROR(
      router.Add({"GET", "/api/v1/audit", "audit.read", Execution::kWorker, false,
                  [&audit](HttpRequest& request) { return ListRecords(audit, request); }}));
  FALAJ_RETURN_IF_ERROR(
      router.Add({"GET", "/api/v1/projects/{project}/audit", "audit.read", Execution::kWorker,
                  false, [&audit](HttpRequest& request) { return ListRecords(audit, request); }}));
  return router.Add({"GET", "/api/v1/audit/verify", "audit.read", Execution::kWorker, false,
                     [&audit, key = std::move(public_key_raw)](HttpRequest& request) {
                       return Answer(request, [&]() -> Result<HttpResponse> {
                         FALAJ_ASSIGN_OR_RETURN(auto report, audit.Verify(key));
                         return HttpResponse::Json(200,
                                                   security::AuditVerifyReportJson(report, key));
                       });
                     }});
}

}  // namespace falaj::api
