#include "api/outcome_routes.h"

#include "api/prediction_log_routes.h"
#include "api/route_helpers.h"
#include "common/json_fields.h"

namespace falaj::api {
namespace {

const std::string kOutcomes = "/api/v1/projects/{project}/endpoints/{endpoint}/outcomes";

// The JSON helpers name the field; the batch's items also need their index.
Status AtItem(size_t index, Status status) {
  if (status) return status;
  return MakeError(status.error().code, "outcomes[{}]: {}", index, status.error().message);
}

Result<monitoring::OutcomeInput> ParseOutcome(const nlohmann::json& item, size_t index) {
  if (!item.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "outcomes[{}]: must be an object", index);
  }
  FALAJ_RETURN_IF_ERROR(
      AtItem(index, json::RejectUnknownFields(item, {"id", "request_id", "unit_key", "metric",
                                                     "type", "value", "timestamp_ms"})));
  monitoring::OutcomeInput input;
  for (auto [field, target] : {std::pair<std::string_view, std::string*>{"id", &input.id},
                               {"request_id", &input.request_id},
                               {"unit_key", &input.unit_key},
                               {"type", &input.type}}) {
    auto text = json::OptionalString(item, field);
    FALAJ_RETURN_IF_ERROR(AtItem(index, text ? Ok() : Status(std::unexpected(text.error()))));
    *target = text->value_or("");
  }
  auto metric = json::RequiredString(item, "metric");
  FALAJ_RETURN_IF_ERROR(AtItem(index, metric ? Ok() : Status(std::unexpected(metric.error()))));
  input.metric = std::move(*metric);
  auto value = item.find("value");
  if (value == item.end() || !value->is_number()) {
    return MakeError(ErrorCode::kInvalidArgument, "outcomes[{}].value: must be a number", index);
  }
  input.value = value->get<double>();
  auto timestamp = json::OptionalInt(item, "timestamp_ms");
  FALAJ_RETURN_IF_ERROR(
      AtItem(index, timestamp ? Ok() : Status(std::unexpected(timestamp.error()))));
  input.timestamp_ms = timestamp->value_or(0);
  return input;
}

nlohmann::json OutcomeJson(const monitoring::StoredOutcome& outcome) {
  const auto& record = outcome.record;
  return {{"id", outcome.id},
          {"request_id", record.request_id},
          {"unit_key", record.unit_key},
          {"metric", record.metric},
          {"type", outcome.type},
          {"value", record.value},
          {"timestamp_ms", record.timestamp_ms},
          {"received_at", TimeOrNull(outcome.received_at_ms)},
          {"joined", record.joined},
          {"arm", record.arm},
          {"model", record.model},
          {"version", record.version},
          {"prediction_timestamp_ms", record.prediction_timestamp_ms},
          {"prediction", record.prediction}};
}

Result<HttpResponse> Post(monitoring::OutcomeStore& outcomes, serving::EndpointStore& endpoints,
                          const HttpRequest& request) {
  FALAJ_RETURN_IF_ERROR(endpoints.Get(request.PathParam("project"), request.PathParam("endpoint")));
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"outcomes"}));
  auto items = body.find("outcomes");
  if (items == body.end() || !items->is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "field 'outcomes' must be an array of outcomes");
  }
  if (items->size() > monitoring::kMaxOutcomesPerBatch) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "field 'outcomes' holds {} outcomes; at most {} are accepted per batch",
                     items->size(), monitoring::kMaxOutcomesPerBatch);
  }
  std::vector<monitoring::OutcomeInput> batch;
  batch.reserve(items->size());
  for (size_t i = 0; i < items->size(); ++i) {
    FALAJ_ASSIGN_OR_RETURN(auto input, ParseOutcome((*items)[i], i));
    batch.push_back(std::move(input));
  }
  FALAJ_ASSIGN_OR_RETURN(
      auto stored, outcomes.Record(request.PathParam("project"), request.PathParam("endpoint"),
                                   std::move(batch)));
  size_t accepted = 0;
  size_t joined = 0;
  nlohmann::json results = nlohmann::json::array();
  for (size_t i = 0; i < stored.size(); ++i) {
    accepted += stored[i].duplicate ? 0 : 1;
    joined += stored[i].record.joined ? 1 : 0;
    results.push_back({{"index", i},
                       {"id", stored[i].id},
                       {"joined", stored[i].record.joined},
                       {"duplicate", stored[i].duplicate}});
  }
  return HttpResponse::Json(200, {{"accepted", accepted},
                                  {"duplicates", stored.size() - accepted},
                                  {"joined", joined},
                                  {"results", std::move(results)}});
}

Result<HttpResponse> List(monitoring::OutcomeStore& outcomes, const HttpRequest& request) {
  monitoring::OutcomeQuery query;
  query.project = request.PathParam("project");
  query.endpoint = request.PathParam("endpoint");
  for (auto [name, target] :
       {std::pair<std::string_view, std::string*>{"request_id", &query.request_id},
        {"unit_key", &query.unit_key},
        {"metric", &query.metric},
        {"page_token", &query.after}}) {
    FALAJ_ASSIGN_OR_RETURN(auto value, request.QueryParam(name));
    *target = value.value_or("");
  }
  FALAJ_ASSIGN_OR_RETURN(query.limit, LogPageLimit(request));
  FALAJ_ASSIGN_OR_RETURN(auto page, outcomes.List(query));
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : page.items) items.push_back(OutcomeJson(item));
  return HttpResponse::Json(
      200, {{"outcomes", std::move(items)},
            {"next_page_token", page.next.empty() ? nlohmann::json() : nlohmann::json(page.next)}});
}

}  // namespace

Status AddOutcomeRoutes(Router& router, monitoring::OutcomeStore& outcomes,
                        serving::EndpointStore& endpoints) {
  FALAJ_RETURN_IF_ERROR(router.Add(WorkerRoute("POST", kOutcomes, "models.predict",
                                               [&outcomes, &endpoints](HttpRequest& request) {
                                                 return Post(outcomes, endpoints, request);
                                               })));
  return router.Add(
      WorkerRoute("GET", kOutcomes, "predictions.read",
                  [&outcomes](HttpRequest& request) { return List(outcomes, request); }));
}

}  // namespace falaj::api
