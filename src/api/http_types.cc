#include "api/http_types.h"

#include <nlohmann/json.hpp>

#include "common/encoding.h"

namespace falaj::api {

std::string_view HttpRequest::Header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return {};
}

Result<std::optional<std::string>> HttpRequest::QueryParam(std::string_view name) const {
  std::string_view rest = query;
  while (!rest.empty()) {
    size_t end = rest.find('&');
    std::string_view pair = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    size_t equals = pair.find('=');
    auto key = PercentDecode(pair.substr(0, equals), /*plus_is_space=*/true);
    if (!key) return std::unexpected(key.error());
    if (*key != name) continue;
    auto value = PercentDecode(equals == std::string_view::npos ? "" : pair.substr(equals + 1),
                               /*plus_is_space=*/true);
    if (!value) return std::unexpected(value.error());
    return std::optional<std::string>(std::move(*value));
  }
  return std::optional<std::string>();
}

const std::string& HttpRequest::PathParam(const std::string& name) const {
  static const std::string kEmpty;
  auto found = path_params.find(name);
  return found == path_params.end() ? kEmpty : found->second;
}

HttpResponse HttpResponse::Json(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

HttpResponse HttpResponse::Text(int status, std::string content_type, std::string body) {
  HttpResponse response;
  response.status = status;
  response.content_type = std::move(content_type);
  response.body = std::move(body);
  return response;
}

HttpResponse HttpResponse::FromError(const Error& error, std::string_view request_id) {
  return Json(HttpStatusFor(error.code), {{"error",
                                           {{"code", ErrorCodeName(error.code)},
                                            {"message", error.message},
                                            {"request_id", request_id}}}});
}

}  // namespace falaj::api
