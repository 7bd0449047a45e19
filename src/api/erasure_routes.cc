#include "api/erasure_routes.h"

#include "api/route_helpers.h"
#include "common/json_fields.h"

namespace falaj::api {
namespace {

const std::string kErasures = "/api/v1/projects/{project}/erasures";

Result<HttpResponse> Erase(features::ErasureService& erasures, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"entity", "reason"}));
  features::ErasureRequest erase;
  erase.project = request.PathParam("project");
  erase.principal = request.principal->subject;
  FALAJ_ASSIGN_OR_RETURN(auto reason, json::OptionalString(body, "reason"));
  erase.reason = reason.value_or("");
  auto entity = body.find("entity");
  if (entity == body.end() || !entity->is_object() || entity->empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'entity' must map each join key to its value, e.g. "
                     "{\"customer_id\": 42}");
  }
  for (const auto& [name, value] : entity->items()) {
    if (value.is_number_integer()) {
      erase.keys.push_back({name, {value.get<int64_t>()}});
    } else if (value.is_string() && !value.get<std::string>().empty()) {
      erase.keys.push_back({name, {value.get<std::string>()}});
    } else {
      return MakeError(ErrorCode::kInvalidArgument,
                       "entity key '{}' must be an integer or a non-empty string", name);
    }
  }
  FALAJ_ASSIGN_OR_RETURN(auto report, erasures.Erase(erase));
  return HttpResponse::Json(200, report);
}

}  // namespace

Status AddErasureRoutes(Router& router, features::ErasureService& erasures) {
  FALAJ_RETURN_IF_ERROR(router.Add(
      WorkerRoute("POST", kErasures, "erasures.write",
                  [&erasures](HttpRequest& request) { return Erase(erasures, request); })));
  return router.Add(WorkerRoute(
      "GET", kErasures, "audit.read", [&erasures](HttpRequest& request) -> Result<HttpResponse> {
        FALAJ_ASSIGN_OR_RETURN(auto reports, erasures.List(request.PathParam("project")));
        return HttpResponse::Json(200, {{"erasures", reports}});
      }));
}

}  // namespace falaj::api
