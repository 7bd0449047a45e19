#include "api/kserve_routes.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "common/json_fields.h"
#include "registry/registry_names.h"

namespace falaj::api {
namespace {

constexpr std::string_view kNumericTypes[] = {"BOOL",   "UINT8", "UINT16", "UINT32",
                                              "UINT64", "INT8",  "INT16",  "INT32",
                                              "INT64",  "FP16",  "FP32",   "FP64"};
constexpr int64_t kMaxRows = 1 << 20;

HttpResponse ProtocolError(const Error& error) {
  return HttpResponse::Json(HttpStatusFor(error.code), {{"error", error.message}});
}

template <typename Body>
HttpResponse AnswerProtocol(Body&& body) {
  Result<HttpResponse> response = body();
  if (!response) return ProtocolError(response.error());
  return std::move(*response);
}

Result<int64_t> RequestedVersion(serving::ModelManager& models, const HttpRequest& request) {
  const std::string& text = request.PathParam("version");
  if (text.empty()) {
    return models.DefaultVersion(request.PathParam("project"), request.PathParam("model"));
  }
  if (!registry::IsVersionNumber(text)) {
    return MakeError(ErrorCode::kInvalidArgument, "version '{}' is not a version number",
                     text.substr(0, 40));
  }
  int64_t version = 0;
  std::from_chars(text.data(), text.data() + text.size(), version);
  return version;
}

// Appends the numbers of a (possibly nested) row-major `data` array.
Status Flatten(const nlohmann::json& data, std::vector<double>& out, size_t limit) {
  if (data.is_array()) {
    for (const auto& item : data) FALAJ_RETURN_IF_ERROR(Flatten(item, out, limit));
    return Ok();
  }
  if (out.size() >= limit) {
    return MakeError(ErrorCode::kInvalidArgument, "'data' holds more values than its shape");
  }
  if (data.is_boolean()) {
    out.push_back(data.get<bool>() ? 1.0 : 0.0);
  } else if (data.is_number()) {
    out.push_back(data.get<double>());
  } else {
    return MakeError(ErrorCode::kInvalidArgument, "'data' must hold numbers, found {}",
                     data.type_name());
  }
  return Ok();
}

struct InputBatch {
  std::vector<double> values;
  size_t rows = 0;
};

Result<InputBatch> ParseInput(const nlohmann::json& body, size_t num_features) {
  auto inputs = body.find("inputs");
  if (inputs == body.end() || !inputs->is_array() || inputs->size() != 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'inputs' must be a list with exactly one tensor of shape [rows, {}]",
                     num_features);
  }
  const nlohmann::json& tensor = inputs->front();
  if (!tensor.is_object()) return MakeError(ErrorCode::kInvalidArgument, "input must be an object");
  FALAJ_ASSIGN_OR_RETURN(auto name, json::RequiredString(tensor, "name"));
  FALAJ_ASSIGN_OR_RETURN(auto datatype, json::RequiredString(tensor, "datatype"));
  if (std::find(std::begin(kNumericTypes), std::end(kNumericTypes), datatype) ==
      std::end(kNumericTypes)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' has datatype '{}'; this model takes numeric tensors", name,
                     datatype.substr(0, 20));
  }
  auto shape = tensor.find("shape");
  if (shape == tensor.end() || !shape->is_array() || shape->empty() || shape->size() > 2) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}' needs a shape [rows, {}]", name,
                     num_features);
  }
  std::vector<int64_t> dims;
  for (const auto& dim : *shape) {
    if (!dim.is_number_integer() || dim.get<int64_t>() < 1 || dim.get<int64_t>() > kMaxRows) {
      return MakeError(ErrorCode::kInvalidArgument, "input '{}' shape must hold positive integers",
                       name);
    }
    dims.push_back(dim.get<int64_t>());
  }
  InputBatch batch;
  batch.rows = dims.size() == 2 ? static_cast<size_t>(dims[0]) : 1;
  size_t width = static_cast<size_t>(dims.back());
  if (width != num_features) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' has {} features per row; the model takes {}", name, width,
                     num_features);
  }
  auto data = tensor.find("data");
  if (data == tensor.end())
    return MakeError(ErrorCode::kInvalidArgument, "input '{}' has no data", name);
  size_t expected = batch.rows * width;
  batch.values.reserve(expected);
  FALAJ_RETURN_IF_ERROR(Flatten(*data, batch.values, expected));
  if (batch.values.size() != expected) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}' has {} values; its shape needs {}",
                     name, batch.values.size(), expected);
  }
  return batch;
}

Result<HttpResponse> Infer(serving::ModelManager& models, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto body, json::ParseObject(request.body));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(body, {"id", "inputs", "outputs", "parameters"}));
  if (auto outputs = body.find("outputs"); outputs != body.end()) {
    if (!outputs->is_array())
      return MakeError(ErrorCode::kInvalidArgument, "'outputs' must be a list");
    for (const auto& output : *outputs) {
      if (!output.is_object() || output.value("name", "") != "predict") {
        return MakeError(ErrorCode::kInvalidArgument, "the model has one output, 'predict'");
      }
    }
  }
  FALAJ_ASSIGN_OR_RETURN(int64_t version, RequestedVersion(models, request));
  FALAJ_ASSIGN_OR_RETURN(
      auto served, models.Get(request.PathParam("project"), request.PathParam("model"), version));
  FALAJ_ASSIGN_OR_RETURN(auto batch, ParseInput(body, served.runtime->num_features()));
  FALAJ_ASSIGN_OR_RETURN(auto predictions, models.Predict(served, batch.values, batch.rows));
  nlohmann::json response = {{"model_name", served.project + "." + served.model},
                             {"model_version", std::to_string(served.version)},
                             {"outputs",
                              {{{"name", "predict"},
                                {"datatype", "FP64"},
                                {"shape", {batch.rows}},
                                {"data", predictions}}}}};
  if (auto id = body.find("id"); id != body.end() && id->is_string()) response["id"] = *id;
  return HttpResponse::Json(200, response);
}

Result<HttpResponse> Metadata(serving::ModelManager& models, registry::ModelRegistry& registry,
                              const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(int64_t version, RequestedVersion(models, request));
  FALAJ_ASSIGN_OR_RETURN(auto described, registry.GetVersion(request.PathParam("project"),
                                                             request.PathParam("model"), version));
  return HttpResponse::Json(
      200, {{"name", described.project + "." + described.model},
            {"versions", {std::to_string(described.version)}},
            {"platform", "falaj-" + described.format},
            {"inputs", described.signature.value("inputs", nlohmann::json::array())},
            {"outputs",
             described.signature.value(
                 "outputs", nlohmann::json::array(
                                {{{"name", "predict"}, {"datatype", "FP64"}, {"shape", {-1}}}}))}});
}

Result<HttpResponse> Ready(serving::ModelManager& models, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(int64_t version, RequestedVersion(models, request));
  // Readiness loads (and verifies) the model, so a successful answer means it can serve.
  FALAJ_RETURN_IF_ERROR(
      models.Get(request.PathParam("project"), request.PathParam("model"), version));
  return HttpResponse::Json(
      200,
      {{"name", request.PathParam("project") + "." + request.PathParam("model")}, {"ready", true}});
}

}  // namespace

Status AddKServeRoutes(Router& router, serving::ModelManager& models,
                       registry::ModelRegistry& registry) {
  const std::string pub(kPublicPermission);
  FALAJ_RETURN_IF_ERROR(router.Add({"GET", "/v2", pub, Execution::kInline, false, [](HttpRequest&) {
                                      return HttpResponse::Json(
                                          200, {{"name", "falaj"},
                                                {"version", "0.1.0"},
                                                {"extensions", nlohmann::json::array()}});
                                    }}));
  FALAJ_RETURN_IF_ERROR(
      router.Add({"GET", "/v2/health/live", pub, Execution::kInline, false, [](HttpRequest&) {
                    return HttpResponse::Json(200, {{"live", true}});
                  }}));
  FALAJ_RETURN_IF_ERROR(
      router.Add({"GET", "/v2/health/ready", pub, Execution::kInline, false, [](HttpRequest&) {
                    return HttpResponse::Json(200, {{"ready", true}});
                  }}));
  for (const std::string base :
       {"/v2/models/{project}.{model}", "/v2/models/{project}.{model}/versions/{version}"}) {
    FALAJ_RETURN_IF_ERROR(router.Add({"GET", base, "models.read", Execution::kWorker, false,
                                      [&models, &registry](HttpRequest& request) {
                                        return AnswerProtocol(
                                            [&] { return Metadata(models, registry, request); });
                                      }}));
    FALAJ_RETURN_IF_ERROR(router.Add({"GET", base + "/ready", "models.read", Execution::kWorker,
                                      false, [&models](HttpRequest& request) {
                                        return AnswerProtocol(
                                            [&] { return Ready(models, request); });
                                      }}));
    Route infer{"POST",
                base + "/infer",
                "models.predict",
                Execution::kWorker,
                false,
                [&models](HttpRequest& request) {
                  return AnswerProtocol([&] { return Infer(models, request); });
                }};
    // Predictions read the model; auditing each one would put a durable write on the hot path.
    infer.audit_exempt = true;
    // A missing project means a missing model, which Infer answers with 404 itself.
    infer.skip_project_check = true;
    FALAJ_RETURN_IF_ERROR(router.Add(std::move(infer)));
  }
  return Ok();
}

}  // namespace falaj::api
