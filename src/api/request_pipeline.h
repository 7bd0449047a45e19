// The middleware chain every request passes through, in order: request id → route match
// (404/405) → failed-authentication throttle per client address → authentication (Bearer API
// key or OIDC token; without one, a client certificate the TLS layer verified) → rate limit per
// principal → authorisation (the route's permission, in the project named by the {project} path
// parameter if the route has one) → the project must exist → handler → audit (mutations and
// refusals) → metrics and one structured log line. Transport-neutral: the HTTP server calls
// Resolve() on its I/O thread, then Handle() inline or on the worker pool as the route asks.
//
// Thread-safety: all methods are safe to call concurrently once the router is complete.
#pragma once

#include <chrono>
#include <string>

#include "api/http_types.h"
#include "api/router.h"
#include "common/config.h"
#include "common/metrics.h"
#include "projects/project_service.h"
#include "security/audit_log.h"
#include "security/authenticator.h"
#include "security/authorizer.h"
#include "security/rate_limiter.h"

namespace falaj::api {

class RequestPipeline {
 public:
  struct Services {
    security::Authenticator& authenticator;
    security::Authorizer& authorizer;
    security::AuditLog& audit;
    projects::ProjectService& projects;
  };
  RequestPipeline(const Router& router, const Services& services, const RateLimitConfig& limits,
                  metrics::Registry& metrics);

  // Assigns the request id and finds the route. Cheap and non-blocking.
  RouteMatch Resolve(HttpRequest& request) const;

  // Runs the chain for a resolved request and returns the answer. Blocks on storage for
  // non-public routes: call it where blocking is allowed unless the route is public and inline.
  HttpResponse Handle(HttpRequest& request, const RouteMatch& match);

  // For routes with a fast handler: the answer when every step — authentication, rate limit,
  // authorisation and the handler — can be given from memory without blocking; nullopt
  // otherwise, and then Handle() must run on the worker pool. Refusals always take Handle(), so
  // they are audited exactly as before.
  std::optional<HttpResponse> TryHandleWithoutBlocking(HttpRequest& request,
                                                       const RouteMatch& match);

  // Answers a request the transport refused before it could be routed (oversized body,
  // malformed HTTP …), with the same logging and metrics as any other answer.
  HttpResponse Refuse(HttpRequest& request, const Error& error);

 private:
  HttpResponse Authorize(HttpRequest& request, const Route& route);
  void Finish(const HttpRequest& request, std::string_view route_label,
              const HttpResponse& response, std::chrono::steady_clock::time_point started);
  void Audit(const HttpRequest& request, std::string_view action, int status);

  const Router& router_;
  // Refusals answered with 429 and Retry-After.
  HttpResponse TooManyRequests(const HttpRequest& request, std::string message,
                               std::chrono::milliseconds retry_after);

  Services services_;
  security::RateLimiter requests_per_principal_;
  security::RateLimiter auth_failures_per_address_;
  metrics::Family<metrics::Counter>& requests_total_;
  metrics::Family<metrics::Histogram>& request_duration_;
};

}  // namespace falaj::api
