// libFuzzer harness for request routing and query parsing (api/router.h, api/http_types.h). The
// input is read like an HTTP request line, "<method> <path>?<query>": the bytes before the first
// space are the method, the rest up to the first '?' the path, the remainder the query.
//
// Router::Match runs on a table shaped like the real one (literal and parameter segments, several
// methods per path) and is compared with a plain reference matcher written here: the same route,
// the same percent-decoded parameters (each non-empty), the same 404/405 and Allow list, and
// INVALID_ARGUMENT for a malformed escape in a parameter. HttpRequest::QueryParam is compared with
// a reference decoder for a few names. Nothing may throw; a malformed query is INVALID_ARGUMENT.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http_types.h"
#include "api/router.h"
#include "fuzz_support.h"

namespace {

using falaj::ErrorCode;
using falaj::api::HttpRequest;
using falaj::api::HttpResponse;
using falaj::api::RouteMatch;
using falaj::api::Router;

struct RouteSpec {
  const char* method;
  const char* pattern;
};

// Registration order matters: the first route whose pattern and method match wins.
constexpr RouteSpec kRoutes[] = {
    {"GET", "/healthz"},
    {"GET", "/api/v1/projects"},
    {"POST", "/api/v1/projects"},
    {"GET", "/api/v1/projects/{project}"},
    {"PATCH", "/api/v1/projects/{project}"},
    {"DELETE", "/api/v1/projects/{project}"},
    {"GET", "/api/v1/projects/{project}/members"},
    {"PUT", "/api/v1/projects/{project}/members/{member}"},
    {"DELETE", "/api/v1/projects/{project}/members/{member}"},
    {"GET", "/api/v1/projects/{project}/models/{model}/versions/{version}"},
    {"POST", "/api/v1/audit/verify"},
    {"GET", "/api/v1/audit/{entry}"},
    {"GET", "/{anything}"},
};

const Router& GetRouter() {
  static const Router* router = [] {
    auto* built = new Router();  // never destroyed: libFuzzer exits without cleanup
    for (const auto& spec : kRoutes) {
      auto added =
          built->Add({spec.method, spec.pattern, "fuzz.permission", falaj::api::Execution::kInline,
                      false, [](HttpRequest&) { return HttpResponse::Text(200, "", ""); }});
      if (!added) falaj::fuzz::Fail(__FILE__, __LINE__, "route refused:", added.error().message);
    }
    return built;
  }();
  return *router;
}

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t at = text.find(separator);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

bool IsParameter(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

std::optional<std::string> ReferenceDecode(std::string_view text, bool plus_is_space = true);

struct ReferenceResult {
  bool shape_matches = false;
  bool malformed = false;
  std::map<std::string, std::string> params;
};

// The reference matcher: segment lists of equal length, literals equal, parameters non-empty
// and percent-decoded ('+' stays '+' in a path).
ReferenceResult ReferenceMatchDecoded(std::string_view pattern, std::string_view path);

std::optional<std::map<std::string, std::string>> ReferenceMatch(std::string_view pattern,
                                                                 std::string_view path) {
  if (path.empty() || path.front() != '/') return std::nullopt;
  auto expected = Split(pattern.substr(1), '/');
  auto actual = Split(path.substr(1), '/');
  if (expected.size() != actual.size()) return std::nullopt;
  std::map<std::string, std::string> params;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (IsParameter(expected[i])) {
      if (actual[i].empty()) return std::nullopt;
      params.emplace(expected[i].substr(1, expected[i].size() - 2), actual[i]);
    } else if (expected[i] != actual[i]) {
      return std::nullopt;
    }
  }
  return params;
}

void CheckMatch(std::string_view method, std::string_view path) {
  const Router& router = GetRouter();
  RouteMatch match = router.Match(method, path);
  const falaj::api::Route* expected_route = nullptr;
  std::map<std::string, std::string> expected_params;
  std::string allowed;
  for (const auto& route : router.routes()) {
    ReferenceResult result = ReferenceMatchDecoded(route.pattern, path);
    if (!result.shape_matches) continue;
    if (result.malformed) {
      FUZZ_REQUIRE(match.route == nullptr && match.error.has_value());
      FUZZ_REQUIRE_ERROR(*match.error, ErrorCode::kInvalidArgument);
      return;
    }
    if (route.method == method) {
      expected_route = &route;
      expected_params = std::move(result.params);
      break;
    }
    allowed += (allowed.empty() ? "" : ", ") + route.method;
  }
  FUZZ_REQUIRE(match.route == expected_route);
  if (match.route != nullptr) {
    FUZZ_REQUIRE(!match.error.has_value());
    FUZZ_REQUIRE(match.params == expected_params);
    for (const auto& [name, value] : match.params) {
      FUZZ_REQUIRE(!name.empty() && !value.empty());
    }
    return;
  }
  FUZZ_REQUIRE(match.error.has_value() && match.params.empty());
  FUZZ_REQUIRE(match.allowed_methods == allowed);
  FUZZ_REQUIRE_ERROR(*match.error,
                     allowed.empty() ? ErrorCode::kNotFound : ErrorCode::kMethodNotAllowed);
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; '+' is a space as in HTML forms when `plus_is_space`; nullopt for a
// malformed escape.
std::optional<std::string> ReferenceDecode(std::string_view text, bool plus_is_space) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (text.size() - i < 3 || HexDigit(text[i + 1]) < 0 || HexDigit(text[i + 2]) < 0) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(HexDigit(text[i + 1]) * 16 + HexDigit(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i] == '+' && plus_is_space ? ' ' : text[i]);
    }
  }
  return out;
}

ReferenceResult ReferenceMatchDecoded(std::string_view pattern, std::string_view path) {
  ReferenceResult result;
  auto raw = ReferenceMatch(pattern, path);
  if (!raw) return result;
  result.shape_matches = true;
  for (const auto& [name, value] : *raw) {
    auto decoded = ReferenceDecode(value, /*plus_is_space=*/false);
    if (!decoded) {
      result.malformed = true;
      return result;
    }
    result.params.emplace(name, std::move(*decoded));
  }
  return result;
}

// What QueryParam should answer: the first pair whose decoded key is `name`; pairs before it
// must decode, and so must its value. nullopt stands for "malformed".
std::optional<std::optional<std::string>> ReferenceQueryParam(std::string_view query,
                                                              std::string_view name) {
  for (std::string_view pair : Split(query, '&')) {
    if (pair.empty()) continue;
    size_t equals = pair.find('=');
    auto key = ReferenceDecode(pair.substr(0, equals));
    if (!key) return std::nullopt;
    if (*key != name) continue;
    auto value = ReferenceDecode(equals == std::string_view::npos ? "" : pair.substr(equals + 1));
    if (!value) return std::nullopt;
    return std::optional<std::string>(std::move(*value));
  }
  return std::optional<std::string>();
}

void CheckQueryParam(const HttpRequest& request, std::string_view name) {
  auto result = request.QueryParam(name);
  auto expected = ReferenceQueryParam(request.query, name);
  if (!result) {
    FUZZ_REQUIRE_ERROR(result.error(), ErrorCode::kInvalidArgument);
    FUZZ_REQUIRE(!expected.has_value());
    return;
  }
  FUZZ_REQUIRE(expected.has_value() && *result == *expected);
}

void Run(std::string_view input) {
  size_t space = input.find(' ');
  std::string_view method = input.substr(0, space);
  std::string_view target = space == std::string_view::npos ? "" : input.substr(space + 1);
  size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  CheckMatch(method, path);

  HttpRequest request;
  request.method = method;
  request.path = path;
  request.query = question == std::string_view::npos ? "" : target.substr(question + 1);
  for (std::string_view name : {"limit", "page_token", "q", " "}) CheckQueryParam(request, name);
  // The first key as it decodes, so that the found-value paths are reached without guessing.
  // Empty names are left out: no handler asks for one, and an empty pair ("a&&b") is skipped
  // by the reference (as in the WHATWG form-urlencoded parser) but read as key "" by QueryParam.
  std::string_view first_pair = Split(request.query, '&').front();
  auto first_key = ReferenceDecode(first_pair.substr(0, first_pair.find('=')));
  if (first_key && !first_key->empty()) CheckQueryParam(request, *first_key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  return falaj::fuzz::RunWithoutExceptions([&] { Run(input); });
}
