#include "api/prediction_log_routes.h"

#include <charconv>

#include "api/route_helpers.h"
#include "common/resource_names.h"

namespace falaj::api {
namespace {

const std::string kEndpoint = "/api/v1/projects/{project}/endpoints/{endpoint}";

Result<int64_t> NumberParam(const HttpRequest& request, std::string_view name,
                            int64_t when_absent) {
  FALAJ_ASSIGN_OR_RETURN(auto text, request.QueryParam(name));
  if (!text) return when_absent;
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc() || end != text->data() + text->size() || value < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "query parameter '{}' must be a non-negative integer", name);
  }
  return value;
}

// Rows of `width` values as nested arrays.
nlohmann::json Rows(const std::vector<float>& values, size_t width) {
  nlohmann::json rows = nlohmann::json::array();
  if (width == 0) return rows;
  for (size_t at = 0; at + width <= values.size(); at += width) {
    rows.push_back(std::vector<float>(values.begin() + static_cast<std::ptrdiff_t>(at),
                                      values.begin() + static_cast<std::ptrdiff_t>(at + width)));
  }
  return rows;
}

nlohmann::json PredictionJson(const serving::PredictionRecord& record) {
  nlohmann::json entity_keys = nlohmann::json::array();
  const size_t keys = record.entity_key_names.size();
  for (size_t at = 0; keys > 0 && at + keys <= record.entity_key_values.size(); at += keys) {
    nlohmann::json row = nlohmann::json::object();
    for (size_t i = 0; i < keys; ++i)
      row[record.entity_key_names[i]] = record.entity_key_values[at + i];
    entity_keys.push_back(std::move(row));
  }
  const size_t features = record.rows == 0 ? 0 : record.inputs.size() / record.rows;
  return {{"request_id", record.request_id},
          {"unit_key", record.unit_key},
          {"timestamp", FormatRfc3339(FromUnixMillis(record.timestamp_ms))},
          {"timestamp_ms", record.timestamp_ms},
          {"latency_us", record.latency_us},
          {"model", record.model},
          {"version", record.version},
          {"arm", record.arm},
          {"shadow", record.shadow},
          {"entity_keys", std::move(entity_keys)},
          {"feature_names", record.feature_names},
          {"rows", record.rows},
          {"inputs", Rows(record.inputs, features)},
          {"outputs", Rows(record.outputs, record.output_width)},
          {"error", record.error}};
}

Result<HttpResponse> ListPredictions(monitoring::PredictionLog& log, const HttpRequest& request) {
  monitoring::PredictionQuery query;
  query.project = request.PathParam("project");
  query.endpoint = request.PathParam("endpoint");
  FALAJ_ASSIGN_OR_RETURN(auto request_id, request.QueryParam("request_id"));
  FALAJ_ASSIGN_OR_RETURN(auto unit_key, request.QueryParam("unit_key"));
  FALAJ_ASSIGN_OR_RETURN(auto page_token, request.QueryParam("page_token"));
  if (request_id && unit_key) {
    return MakeError(ErrorCode::kInvalidArgument, "give request_id or unit_key, not both");
  }
  query.request_id = request_id.value_or("");
  query.unit_key = unit_key.value_or("");
  query.after = page_token.value_or("");
  FALAJ_ASSIGN_OR_RETURN(query.since_ms, NumberParam(request, "since", 0));
  FALAJ_ASSIGN_OR_RETURN(query.limit, LogPageLimit(request));
  FALAJ_ASSIGN_OR_RETURN(auto page, log.Read(query));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : page.items) items.push_back(PredictionJson(item.record));
  return HttpResponse::Json(
      200, {{"predictions", std::move(items)},
            {"next_page_token", page.next.empty() ? nlohmann::json() : nlohmann::json(page.next)}});
}

Result<HttpResponse> LogStats(monitoring::PredictionLog& log, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto stats,
                         log.Stats(request.PathParam("project"), request.PathParam("endpoint")));
  return HttpResponse::Json(200, {{"written", stats.written},
                                  {"dropped", stats.dropped},
                                  {"bytes", stats.bytes},
                                  {"failed", stats.failed},
                                  {"queued", stats.queued},
                                  {"segments", stats.segments},
                                  {"segment_bytes", stats.segment_bytes},
                                  {"indexed_records", stats.indexed_records}});
}

// The log first: an outcome posted meanwhile for a purged prediction is then purged too.
// "@models", the directory of predictions of models called directly (a name no endpoint can
// have), purges those, without which such a project could never be deleted.
Result<HttpResponse> Purge(monitoring::PredictionLog& log, monitoring::OutcomeStore& outcomes,
                           const HttpRequest& request) {
  const std::string& project = request.PathParam("project");
  std::string endpoint = request.PathParam("endpoint");
  if (endpoint == monitoring::SegmentFiles::EndpointDirectory("")) {
    endpoint.clear();
  } else {
    FALAJ_RETURN_IF_ERROR(ValidateName("endpoint name", endpoint));
  }
  FALAJ_ASSIGN_OR_RETURN(auto purged, log.Purge(project, endpoint));
  FALAJ_ASSIGN_OR_RETURN(int64_t outcomes_purged, outcomes.Purge(project, endpoint));
  return HttpResponse::Json(
      200,
      {{"segments", purged.segments}, {"records", purged.records}, {"outcomes", outcomes_purged}});
}

}  // namespace

Result<size_t> LogPageLimit(const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(int64_t limit, NumberParam(request, "limit", 100));
  if (limit < 1 || limit > static_cast<int64_t>(kMaxLogPageSize)) {
    return MakeError(ErrorCode::kInvalidArgument, "query parameter 'limit' must be 1 to {}",
                     kMaxLogPageSize);
  }
  return static_cast<size_t>(limit);
}

Status AddPredictionLogRoutes(Router& router, monitoring::PredictionLog& log,
                              monitoring::OutcomeStore& outcomes) {
  FALAJ_RETURN_IF_ERROR(router.Add(
      WorkerRoute("GET", kEndpoint + "/predictions", "predictions.read",
                  [&log](HttpRequest& request) { return ListPredictions(log, request); })));
  FALAJ_RETURN_IF_ERROR(router.Add(WorkerRoute(
      "DELETE", kEndpoint + "/predictions", "erasures.write",
      [&log, &outcomes](HttpRequest& request) { return Purge(log, outcomes, request); })));
  return router.Add(WorkerRoute("GET", kEndpoint + "/prediction-log", "predictions.read",
                                [&log](HttpRequest& request) { return LogStats(log, request); }));
}

}  // namespace falaj::api
