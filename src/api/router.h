// The route table: method + path pattern ("/api/v1/projects/{project}", or with two parameters
// in one segment "/v2/models/{project}.{model}") → handler, each with the
// permission it requires. A route without a permission is refused at registration, which fails
// start-up: there is no way to add an unprotected route by omission. Public routes say so with
// kPublicPermission.
//
// Thread-safety: register every route before serving; afterwards Match() is read-only and safe
// from any thread.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"
#include "common/result.h"

namespace falaj::api {

// The permission of the few routes anyone may call (health, readiness, metrics).
inline constexpr std::string_view kPublicPermission = "public";

// Where a handler runs: kInline on the connection's I/O thread (only for handlers that never
// block), kWorker on the worker pool (anything touching storage).
enum class Execution { kInline, kWorker };

using Handler = std::function<HttpResponse(HttpRequest& request)>;
// A handler's non-blocking form: the answer when it can be given from memory, nullopt when the
// request needs the blocking handler on the worker pool.
using FastHandler = std::function<std::optional<HttpResponse>(HttpRequest& request)>;

struct Route {
  std::string method;
  std::string pattern;
  std::string permission;
  Execution execution = Execution::kWorker;
  // Mutations are audited; reads are not. Defaults to true for every method but GET/HEAD.
  bool audited = false;
  Handler handler;
  // Set for mutating methods that are not state changes, such as predictions, so that they are
  // not audited one by one (the request log still records them).
  bool audit_exempt = false;
  // Set for routes whose handler answers 404 by itself for a missing project (inference looks
  // the model up anyway), sparing the hot path the pipeline's project-existence read.
  bool skip_project_check = false;
  // Set for worker routes on the data plane (inference): tried first on the I/O thread, with
  // authentication and authorisation answered from memory, sparing the worker-pool round trip.
  FastHandler fast_handler = nullptr;
};

struct RouteMatch {
  const Route* route = nullptr;  // null when nothing matched
  std::map<std::string, std::string> params;
  // Set when no route matched: NOT_FOUND, or METHOD_NOT_ALLOWED when the path exists.
  std::optional<Error> error;
  std::string allowed_methods;  // for the Allow header of a 405
};

class Router {
 public:
  // INVALID_ARGUMENT for a missing permission, a malformed pattern, or a duplicate route.
  Status Add(Route route);
  RouteMatch Match(std::string_view method, std::string_view path) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace falaj::api
