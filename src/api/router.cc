#include "api/router.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "common/encoding.h"

namespace falaj::api {
namespace {

bool IsParameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// A last segment "{name+}" captures the rest of the path, '/' included (artifact paths).
bool IsRestParameter(std::string_view segment) {
  return segment.size() > 3 && segment.front() == '{' && segment.ends_with("+}");
}

// A segment "{first}.{second}" holds two parameters split at the first '.' of the actual
// segment (as in KServe model names "project.model"; project names contain no '.').
size_t DottedPairSeparator(std::string_view segment) {
  if (!IsParameter(segment)) return std::string_view::npos;
  size_t separator = segment.find("}.{");
  return separator == std::string_view::npos ? separator : separator + 1;
}

// The parameters of one pattern segment captured from one path segment; false when the path
// segment cannot fill them.
bool CaptureSegment(std::string_view expected, std::string_view actual,
                    std::vector<std::pair<std::string_view, std::string_view>>* captured) {
  if (actual.empty()) return false;
  size_t separator = DottedPairSeparator(expected);
  if (separator == std::string_view::npos) {
    captured->emplace_back(expected.substr(1, expected.size() - 2), actual);
    return true;
  }
  size_t dot = actual.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == actual.size()) return false;
  captured->emplace_back(expected.substr(1, separator - 2), actual.substr(0, dot));
  captured->emplace_back(expected.substr(separator + 2, expected.size() - separator - 3),
                         actual.substr(dot + 1));
  return true;
}

// Walks pattern and path one '/'-separated segment at a time, without allocating; parameters
// are captured only once the whole path has matched.
// Parameters are percent-decoded, so "user%3Aa%20b" reaches a handler as "user:a b"; a
// malformed escape sets `decode_error`.
bool MatchPattern(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string>* params, std::optional<Error>* decode_error) {
  if (path.empty() || path.front() != '/') return false;
  size_t pattern_at = 1;
  size_t path_at = 1;
  int parameters = 0;
  while (true) {
    size_t pattern_end = std::min(pattern.find('/', pattern_at), pattern.size());
    size_t path_end = std::min(path.find('/', path_at), path.size());
    std::string_view expected = pattern.substr(pattern_at, pattern_end - pattern_at);
    std::string_view actual = path.substr(path_at, path_end - path_at);
    if (IsRestParameter(expected) && pattern_end == pattern.size()) {
      if (path_at >= path.size()) return false;
      ++parameters;
      break;
    }
    if (IsParameter(expected)) {
      std::vector<std::pair<std::string_view, std::string_view>> ignored;
      if (!CaptureSegment(expected, actual, &ignored)) return false;
      ++parameters;
    } else if (expected != actual) {
      return false;
    }
    bool pattern_done = pattern_end == pattern.size();
    bool path_done = path_end == path.size();
    if (pattern_done || path_done) {
      if (pattern_done != path_done) return false;
      break;
    }
    pattern_at = pattern_end + 1;
    path_at = path_end + 1;
  }
  params->clear();
  if (parameters == 0) return true;
  for (pattern_at = 1, path_at = 1; pattern_at <= pattern.size();) {
    size_t pattern_end = std::min(pattern.find('/', pattern_at), pattern.size());
    size_t path_end = std::min(path.find('/', path_at), path.size());
    std::string_view expected = pattern.substr(pattern_at, pattern_end - pattern_at);
    if (IsRestParameter(expected) && pattern_end == pattern.size()) {
      auto decoded = PercentDecode(path.substr(path_at), false);
      if (!decoded) {
        *decode_error = decoded.error();
        return false;
      }
      params->emplace(expected.substr(1, expected.size() - 3), std::move(*decoded));
      break;
    }
    if (IsParameter(expected)) {
      std::vector<std::pair<std::string_view, std::string_view>> captured;
      CaptureSegment(expected, path.substr(path_at, path_end - path_at), &captured);
      for (const auto& [name, raw] : captured) {
        auto decoded = PercentDecode(raw, false);
        if (!decoded) {
          *decode_error = decoded.error();
          return false;
        }
        params->emplace(name, std::move(*decoded));
      }
    }
    pattern_at = pattern_end + 1;
    path_at = path_end + 1;
  }
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
      return MakeError(ErrorCode::kInvalidArgument, "route {} {} is registered twice", route.method,
                       route.pattern);
    }
  }
  route.audited =
      route.audited || (route.method != "GET" && route.method != "HEAD" && !route.audit_exempt);
  routes_.push_back(std::move(route));
  return Ok();
}

RouteMatch Router::Match(std::string_view method, std::string_view path) const {
  RouteMatch match;
  for (const auto& route : routes_) {
    std::map<std::string, std::string> params;
    std::optional<Error> decode_error;
    if (!MatchPattern(route.pattern, path, &params, &decode_error)) {
      if (decode_error) {
        match.error = std::move(decode_error);
        match.allowed_methods.clear();
        return match;
      }
      continue;
    }
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
