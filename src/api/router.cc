#include "api/router.h"

namespace falaj::api {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    segments.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return segments;
}

bool IsParameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string>* params) {
  auto pattern_segments = SplitPath(pattern);
  auto path_segments = SplitPath(path);
  if (pattern_segments.size() != path_segments.size()) return false;
  std::map<std::string, std::string> captured;
  for (size_t i = 0; i < pattern_segments.size(); ++i) {
    if (IsParameter(pattern_segments[i])) {
      if (path_segments[i].empty()) return false;
      auto name = pattern_segments[i].substr(1, pattern_segments[i].size() - 2);
      captured.emplace(name, path_segments[i]);
    } else if (pattern_segments[i] != path_segments[i]) {
      return false;
    }
  }
  *params = std::move(captured);
  return true;
}

}  // namespace

Status Router::Add(Route route) {
  if (route.permission.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "route {} {} declares no permission",
                     route.method, route.pattern);
  }
  if (route.pattern.empty() || route.pattern.front() != '/' || !route.handler) {
    return MakeError(ErrorCode::kInvalidArgument, "route {} {} is malformed", route.method,
                     route.pattern);
  }
  for (const auto& existing : routes_) {
    if (existing.method == route.method && existing.pattern == route.pattern) {
      return MakeError(ErrorCode::kInvalidArgument, "route {} {} is registered twice",
                       route.method, route.pattern);
    }
  }
  route.audited = route.audited || (route.method != "GET" && route.method != "HEAD");
  routes_.push_back(std::move(route));
  return Ok();
}

RouteMatch Router::Match(std::string_view method, std::string_view path) const {
  RouteMatch match;
  for (const auto& route : routes_) {
    std::map<std::string, std::string> params;
    if (!MatchPattern(route.pattern, path, &params)) continue;
    if (route.method == method) {
      match.route = &route;
      match.params = std::move(params);
      match.error.reset();
      return match;
    }
    match.allowed_methods += (match.allowed_methods.empty() ? "" : ", ") + route.method;
  }
  if (!match.allowed_methods.empty()) {
    match.error = Error{ErrorCode::kMethodNotAllowed,
                        fmt::format("method {} is not allowed on {}; allowed: {}", method, path,
                                    match.allowed_methods)};
  } else {
    match.error = Error{ErrorCode::kNotFound, fmt::format("no route for {} {}", method, path)};
  }
  return match;
}

}  // namespace falaj::api
