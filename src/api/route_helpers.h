// Small pieces every REST handler shares: turning a Result<HttpResponse> into a response (errors
// become the standard JSON error body), worker routes built from such bodies, and formatting
// times. Stateless.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "api/http_types.h"
#include "api/router.h"
#include "common/clock.h"
#include "common/result.h"

namespace falaj::api {

// Runs `body` and answers its error, if any, as a JSON error response.
template <typename Body>
HttpResponse Answer(const HttpRequest& request, Body&& body) {
  Result<HttpResponse> response = body();
  if (!response) return HttpResponse::FromError(response.error(), request.request_id);
  return std::move(*response);
}

// RFC 3339 for a stored millisecond time; 0 (unset) becomes JSON null.
inline nlohmann::json TimeOrNull(int64_t millis) {
  if (millis == 0) return nullptr;
  return FormatRfc3339(FromUnixMillis(millis));
}

// A route run on the worker pool whose body returns a Result; errors become JSON error answers.
inline Route WorkerRoute(std::string method, std::string pattern, std::string permission,
                         std::function<Result<HttpResponse>(HttpRequest&)> body) {
  return {std::move(method),
          std::move(pattern),
          std::move(permission),
          Execution::kWorker,
          false,
          [body = std::move(body)](HttpRequest& request) {
            return Answer(request, [&] { return body(request); });
          }};
}

inline HttpResponse NoContent() { return HttpResponse::Text(204, "application/json", ""); }

}  // namespace falaj::api
