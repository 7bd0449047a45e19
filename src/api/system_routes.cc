#include "api/system_routes.h"

#include <nlohmann/json.hpp>

#include "api/openapi_document.h"

namespace falaj::api {

std::string_view OpenApiDocument() { return kOpenApiDocument; }

Status AddSystemRoutes(Router& router, const std::atomic<bool>& ready,
                       const metrics::Registry& metrics) {
  FALAJ_RETURN_IF_ERROR(router.Add({"GET", "/healthz", std::string(kPublicPermission),
                                    Execution::kInline, false, [](HttpRequest&) {
                                      return HttpResponse::Json(200, {{"status", "ok"}});
                                    }}));
  FALAJ_RETURN_IF_ERROR(router.Add({"GET", "/readyz", std::string(kPublicPermission),
                                    Execution::kInline, false, [&ready](HttpRequest& request) {
                                      if (ready.load())
                                        return HttpResponse::Json(200, {{"status", "ready"}});
                                      return HttpResponse::FromError(
                                          {ErrorCode::kUnavailable, "storage is not open yet"},
                                          request.request_id);
                                    }}));
  FALAJ_RETURN_IF_ERROR(router.Add({"GET", "/metrics", std::string(kPublicPermission),
                                    Execution::kInline, false, [&metrics](HttpRequest&) {
                                      return HttpResponse::Text(
                                          200, "text/plain; version=0.0.4; charset=utf-8",
                                          metrics.Render());
                                    }}));
  return router.Add({"GET", "/api/v1/openapi.yaml", std::string(kPublicPermission),
                     Execution::kInline, false, [](HttpRequest&) {
                       return HttpResponse::Text(200, "application/yaml",
                                                 std::string(kOpenApiDocument));
                     }});
}

}  // namespace falaj::api
