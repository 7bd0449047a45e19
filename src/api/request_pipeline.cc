#include "api/request_pipeline.h"

#include <nlohmann/json.hpp>

#include "api/mlflow_codec.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/random.h"

namespace falaj::api {
namespace {

constexpr size_t kMaxClientRequestIdLength = 64;

// A caller-supplied X-Request-Id is kept for end-to-end tracing only if it cannot inject
// anything into logs or headers.
bool IsSafeRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxClientRequestIdLength) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

void AssignRequestId(HttpRequest& request) {
  std::string_view client_id = request.Header("x-request-id");
  request.request_id = IsSafeRequestId(client_id) ? std::string(client_id) : NewRequestId();
}

// "127.0.0.1:5555" → "127.0.0.1"; "[::1]:5555" → "[::1]".
std::string_view ClientHost(std::string_view remote_address) {
  return remote_address.substr(0, remote_address.rfind(':'));
}

// Methods outside the standard set are labelled "other" so a hostile client cannot grow the
// metric's cardinality.
std::string_view MethodLabel(std::string_view method) {
  for (std::string_view known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    if (method == known) return known;
  }
  return "other";
}

// MLflow clients parse {"error_code", "message"}; errors answered before an MLflow handler runs
// get that shape too.
void ReshapeForMlflow(const HttpRequest& request, HttpResponse& response, bool unknown_route) {
  if (request.path.starts_with("/mlflow/")) mlflow::ReshapePipelineError(response, unknown_route);
}

}  // namespace

RequestPipeline::RequestPipeline(const Router& router, const Services& services,
                                 const RateLimitConfig& limits, metrics::Registry& metrics)
    : router_(router),
      services_(services),
      requests_per_principal_(static_cast<double>(limits.requests_per_second),
                              static_cast<double>(limits.burst)),
      auth_failures_per_address_(static_cast<double>(limits.auth_failures_per_minute) / 60.0,
                                 static_cast<double>(limits.auth_failures_per_minute)),
      requests_total_(metrics.AddCounter("falaj_http_requests_total",
                                         "HTTP requests answered, by route pattern, method and "
                                         "status code.",
                                         {"route", "method", "code"})),
      request_duration_(metrics.AddHistogram(
          "falaj_http_request_duration_seconds",
          "Time from a request's routing to its answer, by route pattern and method.",
          {"route", "method"}, metrics::DefaultLatencyBuckets())) {}

RouteMatch RequestPipeline::Resolve(HttpRequest& request) const {
  AssignRequestId(request);
  return router_.Match(request.method, request.path);
}

HttpResponse RequestPipeline::Handle(HttpRequest& request, const RouteMatch& match) {
  auto started = std::chrono::steady_clock::now();
  if (match.route == nullptr) {
    HttpResponse response = HttpResponse::FromError(*match.error, request.request_id);
    if (!match.allowed_methods.empty())
      response.headers.emplace_back("Allow", match.allowed_methods);
    ReshapeForMlflow(request, response, true);
    Finish(request, "unmatched", response, started);
    return response;
  }
  const Route& route = *match.route;
  request.path_params = match.params;
  HttpResponse response = Authorize(request, route);
  if (response.status == 200) {
    try {
      response = route.handler(request);
    } catch (const std::exception& error) {
      // Handlers return errors as values; an exception here is a bug, answered as one.
      log::Error("handler threw", {{"request_id", request.request_id}, {"what", error.what()}});
      response =
          HttpResponse::FromError({ErrorCode::kInternal, "internal error"}, request.request_id);
    }
    if (route.audited) Audit(request, route.permission, response.status);
  } else {
    ReshapeForMlflow(request, response, false);
  }
  Finish(request, route.pattern, response, started);
  return response;
}

std::optional<HttpResponse> RequestPipeline::TryHandleWithoutBlocking(HttpRequest& request,
                                                                      const RouteMatch& match) {
  if (match.route == nullptr || !match.route->fast_handler) return std::nullopt;
  auto started = std::chrono::steady_clock::now();
  const Route& route = *match.route;
  std::string_view token = security::BearerToken(request.Header("authorization"));
  if (token.empty()) return std::nullopt;
  auto principal = services_.authenticator.AuthenticateFromMemory(token);
  if (!principal) return std::nullopt;
  request.path_params = match.params;
  const std::string& project = request.PathParam("project");
  auto allowed = services_.authorizer.IsAllowedFromMemory(*principal, route.permission, project);
  if (!allowed || !*allowed) return std::nullopt;
  // Over the limit: Handle() answers 429. The token is taken only once the request is answered
  // here, so a request that falls back to Handle() is not counted twice.
  if (!requests_per_principal_.HasToken(principal->subject)) return std::nullopt;
  request.principal = std::move(*principal);
  std::optional<HttpResponse> response;
  try {
    response = route.fast_handler(request);
  } catch (const std::exception& error) {
    log::Error("handler threw", {{"request_id", request.request_id}, {"what", error.what()}});
    response =
        HttpResponse::FromError({ErrorCode::kInternal, "internal error"}, request.request_id);
  }
  if (response) {
    (void)requests_per_principal_.Acquire(request.principal->subject);
    Finish(request, route.pattern, *response, started);
  } else {
    request.principal.reset();
  }
  return response;
}

HttpResponse RequestPipeline::Authorize(HttpRequest& request, const Route& route) {
  HttpResponse allowed_response;
  if (route.permission == kPublicPermission) return allowed_response;
  std::string_view token = security::BearerToken(request.Header("authorization"));
  if (token.empty() && request.client_certificate_cn.empty()) {
    HttpResponse refused = HttpResponse::FromError(
        {ErrorCode::kUnauthenticated, "missing 'Authorization: Bearer <api key or token>' header"},
        request.request_id);
    refused.headers.emplace_back("WWW-Authenticate", "Bearer");
    Audit(request, route.permission, refused.status);
    return refused;
  }
  std::string_view address = ClientHost(request.remote_address);
  if (!auth_failures_per_address_.HasToken(address)) {
    return TooManyRequests(request, "too many failed authentications from this address",
                           auth_failures_per_address_.Acquire(address));
  }
  // A bearer credential names the caller; without one, a verified client certificate does.
  auto principal = token.empty()
                       ? security::ClientCertificatePrincipal(request.client_certificate_cn)
                       : services_.authenticator.Authenticate(token);
  if (!principal) {
    if (principal.error().code == ErrorCode::kUnauthenticated) {
      (void)auth_failures_per_address_.Acquire(address);
    }
    HttpResponse refused = HttpResponse::FromError(principal.error(), request.request_id);
    if (principal.error().code == ErrorCode::kUnauthenticated) {
      refused.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    }
    Audit(request, route.permission, refused.status);
    return refused;
  }
  request.principal = std::move(*principal);
  if (auto wait = requests_per_principal_.Acquire(request.principal->subject); wait.count() > 0) {
    return TooManyRequests(request, "request rate limit exceeded", wait);
  }
  const std::string& project = request.PathParam("project");
  auto allowed = services_.authorizer.IsAllowed(*request.principal, route.permission, project);
  if (!allowed) return HttpResponse::FromError(allowed.error(), request.request_id);
  if (!*allowed) {
    HttpResponse refused = HttpResponse::FromError(
        {ErrorCode::kPermissionDenied,
         project.empty()
             ? fmt::format("permission '{}' needs a platform administrator", route.permission)
             : fmt::format("no role in project '{}' grants permission '{}'", project,
                           route.permission)},
        request.request_id);
    Audit(request, route.permission, refused.status);
    return refused;
  }
  if (!project.empty() && !route.skip_project_check) {
    // Checked after authorisation, so that only members learn whether a project exists.
    auto found = services_.projects.Get(project);
    if (!found) return HttpResponse::FromError(found.error(), request.request_id);
  }
  return allowed_response;
}

HttpResponse RequestPipeline::TooManyRequests(const HttpRequest& request, std::string message,
                                              std::chrono::milliseconds retry_after) {
  HttpResponse refused = HttpResponse::FromError(
      {ErrorCode::kResourceExhausted, std::move(message)}, request.request_id);
  // Whole seconds, rounded up, as Retry-After requires.
  refused.headers.emplace_back("Retry-After", std::to_string((retry_after.count() + 999) / 1000));
  // Not audited: a flood would otherwise turn into a flood of durable writes. The request log
  // line records it, and the throttled failures before it were audited.
  return refused;
}

HttpResponse RequestPipeline::Refuse(HttpRequest& request, const Error& error) {
  AssignRequestId(request);
  HttpResponse response = HttpResponse::FromError(error, request.request_id);
  ReshapeForMlflow(request, response, false);
  Finish(request, "unmatched", response, std::chrono::steady_clock::now());
  return response;
}

void RequestPipeline::Audit(const HttpRequest& request, std::string_view action, int status) {
  security::AuditRecord record;
  record.time_ms = ToUnixMillis(SystemClock::Instance().Now());
  record.request_id = request.request_id;
  record.principal = request.principal ? request.principal->subject : "anonymous";
  record.action = action;
  record.method = request.method;
  record.resource = request.path;
  record.status = status;
  record.source = request.remote_address;
  record.outcome = status == 401 || status == 403 ? "denied" : status < 400 ? "allowed" : "failed";
  if (Status appended = services_.audit.Append(record); !appended) {
    log::Error("audit append failed",
               {{"request_id", request.request_id}, {"error", appended.error().message}});
  }
}

void RequestPipeline::Finish(const HttpRequest& request, std::string_view route_label,
                             const HttpResponse& response,
                             std::chrono::steady_clock::time_point started) {
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string code = std::to_string(response.status);
  std::string_view method = MethodLabel(request.method);
  requests_total_.WithLabels({route_label, method, code}).Increment();
  request_duration_.WithLabels({route_label, method}).Observe(seconds);
  if (log::Enabled(log::Level::kInfo)) {
    log::Info("request", {{"request_id", request.request_id},
                          {"method", request.method},
                          {"path", request.path},
                          {"route", route_label},
                          {"status", response.status},
                          {"duration_ms", seconds * 1000},
                          {"principal", request.principal ? request.principal->subject : ""},
                          {"remote", request.remote_address}});
  }
}

}  // namespace falaj::api
