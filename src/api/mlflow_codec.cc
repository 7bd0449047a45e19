#include "api/mlflow_codec.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include "common/json_fields.h"

namespace falaj::api::mlflow {
namespace {

std::unexpected<Error> BadField(std::string_view name, std::string_view expected) {
  return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be {}", name, expected);
}

Result<int64_t> IntFromText(std::string_view name, std::string_view text) {
  int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return BadField(name, "an integer");
  }
  return value;
}

Result<double> DoubleFromText(std::string_view name, std::string_view text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity" || text == "inf") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity" || text == "-inf") return -std::numeric_limits<double>::infinity();
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return BadField(name, "a number");
  }
  return value;
}

Result<double> DoubleFromJson(std::string_view name, const nlohmann::json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) return DoubleFromText(name, value.get_ref<const std::string&>());
  return BadField(name, "a number");
}

Result<int64_t> IntFromJson(std::string_view name, const nlohmann::json& value) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_string()) return IntFromText(name, value.get_ref<const std::string&>());
  return BadField(name, "an integer");
}

}  // namespace

Result<Fields> Fields::Read(const HttpRequest& request) {
  Fields fields;
  fields.request_ = &request;
  if (request.method == "GET") return fields;
  if (request.body.empty()) {
    fields.body_ = nlohmann::json::object();
    return fields;
  }
  fields.body_ = nlohmann::json::parse(request.body, nullptr, false);
  if (!fields.body_.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "the request body must be a JSON object");
  }
  return fields;
}

Result<std::optional<std::string>> Fields::String(std::string_view name) const {
  if (body_.is_null()) return request_->QueryParam(name);
  auto found = body_.find(name);
  if (found == body_.end() || found->is_null()) return std::optional<std::string>();
  if (found->is_string()) return std::optional<std::string>(found->get<std::string>());
  if (found->is_number_integer()) return std::optional<std::string>(found->dump());
  return BadField(name, "a string");
}

Result<std::string> Fields::RequiredString(std::string_view name) const {
  FALAJ_ASSIGN_OR_RETURN(auto value, String(name));
  if (!value || value->empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "missing value for required parameter '{}'",
                     name);
  }
  return std::move(*value);
}

Result<std::optional<int64_t>> Fields::Int(std::string_view name) const {
  if (body_.is_null()) {
    FALAJ_ASSIGN_OR_RETURN(auto text, request_->QueryParam(name));
    if (!text) return std::optional<int64_t>();
    FALAJ_ASSIGN_OR_RETURN(int64_t value, IntFromText(name, *text));
    return std::optional<int64_t>(value);
  }
  auto found = body_.find(name);
  if (found == body_.end() || found->is_null()) return std::optional<int64_t>();
  FALAJ_ASSIGN_OR_RETURN(int64_t value, IntFromJson(name, *found));
  return std::optional<int64_t>(value);
}

Result<std::optional<double>> Fields::Double(std::string_view name) const {
  if (body_.is_null()) {
    FALAJ_ASSIGN_OR_RETURN(auto text, request_->QueryParam(name));
    if (!text) return std::optional<double>();
    FALAJ_ASSIGN_OR_RETURN(double value, DoubleFromText(name, *text));
    return std::optional<double>(value);
  }
  auto found = body_.find(name);
  if (found == body_.end() || found->is_null()) return std::optional<double>();
  FALAJ_ASSIGN_OR_RETURN(double value, DoubleFromJson(name, *found));
  return std::optional<double>(value);
}

Result<std::vector<std::string>> Fields::Strings(std::string_view name) const {
  std::vector<std::string> values;
  if (body_.is_null()) {
    FALAJ_ASSIGN_OR_RETURN(auto single, request_->QueryParam(name));
    if (single) values.push_back(std::move(*single));
    return values;
  }
  return json::StringList(body_, name);
}

Result<std::vector<std::pair<std::string, std::string>>> Fields::KeyValues(
    std::string_view name) const {
  std::vector<std::pair<std::string, std::string>> values;
  auto found = body_.is_object() ? body_.find(name) : body_.end();
  if (!body_.is_object() || found == body_.end() || found->is_null()) return values;
  if (!found->is_array()) return BadField(name, "a list of {key, value} objects");
  for (const auto& item : *found) {
    if (!item.is_object() || !item.contains("key") || !item["key"].is_string() ||
        (item.contains("value") && !item["value"].is_string() && !item["value"].is_null())) {
      return BadField(name, "a list of {key, value} objects with string keys and values");
    }
    values.emplace_back(item["key"].get<std::string>(), item.value("value", std::string()));
  }
  return values;
}

Result<std::vector<tracking::MetricPoint>> Fields::Metrics(std::string_view name) const {
  std::vector<tracking::MetricPoint> metrics;
  auto found = body_.is_object() ? body_.find(name) : body_.end();
  if (!body_.is_object() || found == body_.end() || found->is_null()) return metrics;
  if (!found->is_array()) return BadField(name, "a list of metrics");
  for (const auto& item : *found) {
    if (!item.is_object() || !item.contains("key") || !item["key"].is_string() ||
        !item.contains("value") || !item.contains("timestamp")) {
      return BadField(name, "a list of {key, value, timestamp, step} objects");
    }
    tracking::MetricPoint metric;
    metric.key = item["key"].get<std::string>();
    FALAJ_ASSIGN_OR_RETURN(metric.value, DoubleFromJson("value", item["value"]));
    FALAJ_ASSIGN_OR_RETURN(metric.timestamp_ms, IntFromJson("timestamp", item["timestamp"]));
    if (item.contains("step") && !item["step"].is_null()) {
      FALAJ_ASSIGN_OR_RETURN(metric.step, IntFromJson("step", item["step"]));
    }
    metrics.push_back(std::move(metric));
  }
  return metrics;
}

Result<std::string> Fields::RunId() const {
  FALAJ_ASSIGN_OR_RETURN(auto run_id, String("run_id"));
  if (run_id && !run_id->empty()) return std::move(*run_id);
  return RequiredString("run_uuid");
}

nlohmann::json DoubleJson(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

nlohmann::json KeyValuesJson(const std::map<std::string, std::string>& values) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [key, value] : values) list.push_back({{"key", key}, {"value", value}});
  return list;
}

nlohmann::json ExperimentJson(const tracking::Experiment& experiment) {
  return {{"experiment_id", experiment.experiment_id},
          {"name", experiment.name},
          {"artifact_location", experiment.artifact_location},
          {"lifecycle_stage", tracking::LifecycleName(experiment.lifecycle)},
          {"creation_time", experiment.creation_time_ms},
          {"last_update_time", experiment.last_update_time_ms},
          {"tags", KeyValuesJson(experiment.tags)}};
}

nlohmann::json RunInfoJson(const tracking::RunInfo& info) {
  nlohmann::json json = {{"run_id", info.run_id},
                         {"run_uuid", info.run_id},
                         {"run_name", info.run_name},
                         {"experiment_id", info.experiment_id},
                         {"user_id", info.user_id},
                         {"status", info.status},
                         {"start_time", info.start_time_ms},
                         {"artifact_uri", info.artifact_uri},
                         {"lifecycle_stage", tracking::LifecycleName(info.lifecycle)}};
  if (info.end_time_ms) json["end_time"] = *info.end_time_ms;
  return json;
}

nlohmann::json MetricJson(const tracking::MetricPoint& metric) {
  return {{"key", metric.key},
          {"value", DoubleJson(metric.value)},
          {"timestamp", metric.timestamp_ms},
          {"step", metric.step}};
}

nlohmann::json RunJson(const tracking::Run& run) {
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& metric : run.latest_metrics) metrics.push_back(MetricJson(metric));
  return {{"info", RunInfoJson(run.info)},
          {"data",
           {{"metrics", metrics},
            {"params", KeyValuesJson(run.params)},
            {"tags", KeyValuesJson(run.tags)}}},
          {"inputs", nlohmann::json::object()}};
}

tracking::ViewType ParseViewType(std::string_view text) {
  if (text == "DELETED_ONLY") return tracking::ViewType::kDeletedOnly;
  if (text == "ALL") return tracking::ViewType::kAll;
  return tracking::ViewType::kActiveOnly;
}

HttpResponse ErrorResponse(const Error& error) {
  struct Mapping {
    std::string_view code;
    int status;
  };
  Mapping mapping = [&]() -> Mapping {
    switch (error.code) {
      case ErrorCode::kInvalidArgument:
      case ErrorCode::kFailedPrecondition:
        return {"INVALID_PARAMETER_VALUE", 400};
      case ErrorCode::kPayloadTooLarge:
        return {"RESOURCE_LIMIT_EXCEEDED", 413};
      case ErrorCode::kAlreadyExists:
        return {"RESOURCE_ALREADY_EXISTS", 400};
      case ErrorCode::kNotFound:
        return {"RESOURCE_DOES_NOT_EXIST", 404};
      case ErrorCode::kUnauthenticated:
        return {"UNAUTHENTICATED", 401};
      case ErrorCode::kPermissionDenied:
        return {"PERMISSION_DENIED", 403};
      case ErrorCode::kResourceExhausted:
        return {"RESOURCE_EXHAUSTED", 429};
      case ErrorCode::kUnimplemented:
        return {"NOT_IMPLEMENTED", 501};
      case ErrorCode::kUnavailable:
        return {"TEMPORARILY_UNAVAILABLE", 503};
      case ErrorCode::kDeadlineExceeded:
        return {"DEADLINE_EXCEEDED", 504};
      case ErrorCode::kMethodNotAllowed:
        return {"ENDPOINT_NOT_FOUND", 405};
      default:
        return {"INTERNAL_ERROR", 500};
    }
  }();
  return HttpResponse::Json(mapping.status,
                            {{"error_code", mapping.code}, {"message", error.message}});
}

void ReshapePipelineError(HttpResponse& response, bool unknown_route) {
  if (response.status < 400) return;
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  auto error = body.is_object() ? body.find("error") : body.end();
  if (!body.is_object() || error == body.end() || !error->is_object()) return;
  std::string message = error->value("message", "");
  std::string_view code = [&]() -> std::string_view {
    switch (response.status) {
      case 400:
        return "INVALID_PARAMETER_VALUE";
      case 401:
        return "UNAUTHENTICATED";
      case 403:
        return "PERMISSION_DENIED";
      case 404:
        return unknown_route ? "ENDPOINT_NOT_FOUND" : "RESOURCE_DOES_NOT_EXIST";
      case 405:
        return "ENDPOINT_NOT_FOUND";
      case 413:
        return "RESOURCE_LIMIT_EXCEEDED";
      case 429:
        return "REQUEST_LIMIT_EXCEEDED";
      case 503:
        return "TEMPORARILY_UNAVAILABLE";
      default:
        return "INTERNAL_ERROR";
    }
  }();
  response.content_type = "application/json";
  response.body = nlohmann::json({{"error_code", code}, {"message", message}}).dump();
}

Result<std::map<std::string, std::string>> ParseEqualityFilter(
    std::string_view filter, const std::vector<std::string_view>& keys) {
  std::map<std::string, std::string> wanted;
  std::string text(filter);
  size_t at = 0;
  auto skip_spaces = [&] {
    while (at < text.size() && std::isspace(static_cast<unsigned char>(text[at]))) ++at;
  };
  auto bad = [&]() -> std::unexpected<Error> {
    return MakeError(ErrorCode::kInvalidArgument,
                     "unsupported filter '{}': Falaj supports <key> = '<value>' clauses joined by "
                     "AND, with keys: {}",
                     filter.substr(0, 200), fmt::join(keys, ", "));
  };
  skip_spaces();
  while (at < text.size()) {
    size_t key_start = at;
    while (at < text.size() && (std::isalnum(static_cast<unsigned char>(text[at])) ||
                                text[at] == '_' || text[at] == '.')) {
      ++at;
    }
    std::string key = text.substr(key_start, at - key_start);
    if (key.starts_with("attributes.")) key = key.substr(11);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) return bad();
    skip_spaces();
    if (at >= text.size() || text[at] != '=') return bad();
    ++at;
    skip_spaces();
    if (at >= text.size() || (text[at] != '\'' && text[at] != '"')) return bad();
    char quote = text[at++];
    size_t end = text.find(quote, at);
    if (end == std::string::npos) return bad();
    wanted[key] = text.substr(at, end - at);
    at = end + 1;
    skip_spaces();
    if (at < text.size()) {
      std::string word = text.substr(at, 3);
      std::transform(word.begin(), word.end(), word.begin(), ::toupper);
      if (word != "AND") return bad();
      at += 3;
      skip_spaces();
    }
  }
  return wanted;
}

Result<Paging> ReadPaging(const Fields& fields, size_t default_limit, size_t max_limit) {
  FALAJ_ASSIGN_OR_RETURN(auto max_results, fields.Int("max_results"));
  FALAJ_ASSIGN_OR_RETURN(auto token, fields.String("page_token"));
  if (max_results && (*max_results < 1 || static_cast<uint64_t>(*max_results) > max_limit)) {
    return MakeError(ErrorCode::kInvalidArgument, "max_results must be between 1 and {}",
                     max_limit);
  }
  FALAJ_ASSIGN_OR_RETURN(size_t offset, tracking::DecodePageToken(token.value_or("")));
  return Paging{offset, max_results ? static_cast<size_t>(*max_results) : default_limit};
}

Route JsonRoute(std::string method, std::string pattern, std::string permission, bool write,
                JsonBody body) {
  Route route;
  route.method = std::move(method);
  route.pattern = std::move(pattern);
  route.permission = std::move(permission);
  route.execution = Execution::kWorker;
  route.audit_exempt = !write;
  route.handler = [body = std::move(body)](HttpRequest& request) {
    Result<nlohmann::json> answer = [&]() -> Result<nlohmann::json> {
      FALAJ_ASSIGN_OR_RETURN(auto fields, Fields::Read(request));
      return body(fields, request);
    }();
    if (!answer) return ErrorResponse(answer.error());
    return HttpResponse::Json(200, *answer);
  };
  return route;
}

}  // namespace falaj::api::mlflow
