#include "api/access_routes.h"

#include <nlohmann/json.hpp>

#include "api/route_helpers.h"
#include "common/json_fields.h"
#include "security/roles.h"

namespace falaj::api {
namespace {

constexpr int64_t kMaxExpirySeconds = int64_t{10} * 365 * 24 * 3600;
constexpr int64_t kDefaultRotationOverlapSeconds = 24 * 3600;

nlohmann::json KeyJson(const security::ApiKeyInfo& key) {
  nlohmann::json out = {
      {"id", key.id},
      {"name", key.name},
      {"subject", key.subject()},
      {"platform_admin", key.platform_admin},
      {"project", key.project.empty() ? nlohmann::json() : nlohmann::json(key.project)},
      {"created_by", key.created_by},
      {"created_at", TimeOrNull(key.created_at_ms)},
      {"expires_at", TimeOrNull(key.expires_at_ms)},
      {"last_used_at", TimeOrNull(key.last_used_at_ms)},
      {"revoked_at", TimeOrNull(key.revoked_at_ms)}};
  return out;
}

HttpResponse CreatedKeyResponse(const security::CreatedKey& created) {
  nlohmann::json body = KeyJson(created.info);
  body["key"] = created.plaintext;  // the only time the plaintext is ever shown
  return HttpResponse::Json(201, body);
}

// POST …/api-keys. Platform keys may be platform admins; project keys get a role there.
Result<HttpResponse> CreateKey(security::ApiKeyService& keys,
                               security::RoleBindingService& bindings, const HttpRequest& request) {
  const std::string& project = request.PathParam("project");
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  if (project.empty()) {
    FALAJ_RETURN_IF_ERROR(
        json::RejectUnknownFields(body, {"name", "platform_admin", "expires_in_seconds"}));
  } else {
    FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"name", "role", "expires_in_seconds"}));
  }
  security::NewApiKey key;
  key.project = project;
  key.created_by = request.principal->subject;
  FALAJ_ASSIGN_OR_RETURN(key.name, json::RequiredString(body, "name"));
  FALAJ_ASSIGN_OR_RETURN(auto admin, json::OptionalBool(body, "platform_admin"));
  key.platform_admin = admin.value_or(false);
  FALAJ_ASSIGN_OR_RETURN(auto expires_in, json::OptionalInt(body, "expires_in_seconds"));
  if (expires_in) {
    if (*expires_in <= 0 || *expires_in > kMaxExpirySeconds) {
      return MakeError(ErrorCode::kInvalidArgument, "field 'expires_in_seconds' must be 1 to {}",
                       kMaxExpirySeconds);
    }
    key.expires_at_ms = ToUnixMillis(SystemClock::Instance().Now()) + *expires_in * 1000;
  }
  std::string role;
  if (!project.empty()) {
    FALAJ_ASSIGN_OR_RETURN(role, json::RequiredString(body, "role"));
    if (!security::IsProjectRole(role)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "role '{}' is not one of: viewer, developer, deployer, auditor, admin",
                       role.substr(0, 80));
    }
  }
  FALAJ_ASSIGN_OR_RETURN(auto created, keys.Create(key));
  if (!project.empty()) {
    FALAJ_RETURN_IF_ERROR(bindings.Set(project, created.info.subject(), role));
  }
  return CreatedKeyResponse(created);
}

Result<HttpResponse> RotateKey(security::ApiKeyService& keys, const HttpRequest& request) {
  int64_t overlap = kDefaultRotationOverlapSeconds;
  if (!request.body.empty()) {
    FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
    FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"overlap_seconds"}));
    FALAJ_ASSIGN_OR_RETURN(auto requested, json::OptionalInt(body, "overlap_seconds"));
    overlap = requested.value_or(overlap);
  }
  FALAJ_ASSIGN_OR_RETURN(
      auto created, keys.Rotate(request.PathParam("key"), request.PathParam("project"), overlap));
  return CreatedKeyResponse(created);
}

Status AddKeyRoutes(Router& router, const std::string& prefix, security::ApiKeyService& keys,
                    security::RoleBindingService& bindings) {
  FALAJ_RETURN_IF_ERROR(router.Add(
      {"GET", prefix, "keys.admin", Execution::kWorker, false, [&keys](HttpRequest& request) {
         return Answer(request, [&]() -> Result<HttpResponse> {
           FALAJ_ASSIGN_OR_RETURN(auto listed, keys.List(request.PathParam("project")));
           nlohmann::json items = nlohmann::json::array();
           for (const auto& key : listed) items.push_back(KeyJson(key));
           return HttpResponse::Json(200, {{"api_keys", items}});
         });
       }}));
  FALAJ_RETURN_IF_ERROR(
      router.Add({"POST", prefix, "keys.admin", Execution::kWorker, true,
                  [&keys, &bindings](HttpRequest& request) {
                    return Answer(request, [&] { return CreateKey(keys, bindings, request); });
                  }}));
  FALAJ_RETURN_IF_ERROR(router.Add({"GET", prefix + "/{key}", "keys.admin", Execution::kWorker,
                                    false, [&keys](HttpRequest& request) {
                                      return Answer(request, [&]() -> Result<HttpResponse> {
                                        FALAJ_ASSIGN_OR_RETURN(
                                            auto key, keys.Get(request.PathParam("key"),
                                                               request.PathParam("project")));
                                        return HttpResponse::Json(200, KeyJson(key));
                                      });
                                    }}));
  FALAJ_RETURN_IF_ERROR(
      router.Add({"DELETE", prefix + "/{key}", "keys.admin", Execution::kWorker, true,
                  [&keys](HttpRequest& request) {
                    return Answer(request, [&]() -> Result<HttpResponse> {
                      FALAJ_RETURN_IF_ERROR(
                          keys.Revoke(request.PathParam("key"), request.PathParam("project")));
                      return NoContent();
                    });
                  }}));
  return router.Add({"POST", prefix + "/{key}/rotate", "keys.admin", Execution::kWorker, true,
                     [&keys](HttpRequest& request) {
                       return Answer(request, [&] { return RotateKey(keys, request); });
                     }});
}

nlohmann::json BindingJson(const security::RoleBinding& binding) {
  return {{"subject", binding.subject},
          {"role", binding.role},
          {"created_at", TimeOrNull(binding.created_at_ms)}};
}

Status AddMemberRoutes(Router& router, security::RoleBindingService& bindings) {
  const std::string members = "/api/v1/projects/{project}/members";
  FALAJ_RETURN_IF_ERROR(router.Add(
      {"GET", members, "members.read", Execution::kWorker, false,
       [&bindings](HttpRequest& request) {
         return Answer(request, [&]() -> Result<HttpResponse> {
           FALAJ_ASSIGN_OR_RETURN(auto listed, bindings.List(request.PathParam("project")));
           nlohmann::json items = nlohmann::json::array();
           for (const auto& binding : listed) items.push_back(BindingJson(binding));
           return HttpResponse::Json(200, {{"members", items}});
         });
       }}));
  FALAJ_RETURN_IF_ERROR(router.Add(
      {"PUT", members + "/{subject}", "members.admin", Execution::kWorker, true,
       [&bindings](HttpRequest& request) {
         return Answer(request, [&]() -> Result<HttpResponse> {
           FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
           FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"role"}));
           FALAJ_ASSIGN_OR_RETURN(auto role, json::RequiredString(body, "role"));
           FALAJ_ASSIGN_OR_RETURN(auto binding, bindings.Set(request.PathParam("project"),
                                                             request.PathParam("subject"), role));
           return HttpResponse::Json(200, BindingJson(binding));
         });
       }}));
  return router.Add({"DELETE", members + "/{subject}", "members.admin", Execution::kWorker, true,
                     [&bindings](HttpRequest& request) {
                       return Answer(request, [&]() -> Result<HttpResponse> {
                         FALAJ_RETURN_IF_ERROR(bindings.Remove(request.PathParam("project"),
                                                               request.PathParam("subject")));
                         return NoContent();
                       });
                     }});
}

}  // namespace

Status AddAccessRoutes(Router& router, security::ApiKeyService& keys,
                       security::RoleBindingService& bindings) {
  FALAJ_RETURN_IF_ERROR(AddKeyRoutes(router, "/api/v1/api-keys", keys, bindings));
  FALAJ_RETURN_IF_ERROR(
      AddKeyRoutes(router, "/api/v1/projects/{project}/api-keys", keys, bindings));
  return AddMemberRoutes(router, bindings);
}

}  // namespace falaj::api
