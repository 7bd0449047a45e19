// Transport-neutral HTTP request and response values. The Beast transport converts to and from
// these, so handlers and middleware never see Boost types. Plain values: not thread-safe to
// mutate concurrently, safe to share read-only.
#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/result.h"
#include "security/principal.h"

namespace falaj::api {

struct HttpRequest {
  std::string method;  // "GET", "POST" …
  std::string path;    // target without the query, e.g. "/api/v1/projects/demo"
  std::string query;   // after '?', undecoded
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
  std::string remote_address;
  // Subject CN of a client certificate the TLS layer verified (mutual TLS); "" when none.
  std::string client_certificate_cn;

  // Filled by the pipeline.
  std::string request_id;
  std::map<std::string, std::string> path_params;
  std::optional<security::Principal> principal;

  // The first header with this (lowercase) name, or "" when absent.
  std::string_view Header(std::string_view lowercase_name) const;
  // The first query parameter with this name, percent-decoded ('+' is a space); nullopt when
  // absent. INVALID_ARGUMENT for a malformed escape.
  Result<std::optional<std::string>> QueryParam(std::string_view name) const;
  // A parameter of the matched route pattern; "" when absent.
  const std::string& PathParam(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Json(int status, const nlohmann::json& body);
  static HttpResponse Text(int status, std::string content_type, std::string body);
  // {"error": {"code": "...", "message": "...", "request_id": "..."}} with the mapped status.
  static HttpResponse FromError(const Error& error, std::string_view request_id);
};

}  // namespace falaj::api
