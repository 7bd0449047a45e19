#include "api/http_types.h"

#include <nlohmann/json.hpp>

namespace falaj::api {

std::string_view HttpRequest::Header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return value;
  }
  return {};
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
