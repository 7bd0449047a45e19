#include "api/kserve_routes.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "api/kserve_codec.h"
#include "registry/registry_names.h"

namespace falaj::api {
namespace {

HttpResponse ProtocolError(const Error& error) {
  return HttpResponse::Json(HttpStatusFor(error.code), {{"error", error.message}});
}

template <typename Body>
HttpResponse AnswerProtocol(Body&& body) {
  Result<HttpResponse> response = body();
  if (!response) return ProtocolError(response.error());
  return std::move(*response);
}

Result<std::optional<int64_t>> PinnedVersion(const HttpRequest& request) {
  const std::string& text = request.PathParam("version");
  if (text.empty()) return std::optional<int64_t>();
  if (!registry::IsVersionNumber(text)) {
    return MakeError(ErrorCode::kInvalidArgument, "version '{}' is not a version number",
                     text.substr(0, 40));
  }
  int64_t version = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (error != std::errc()) {
    return MakeError(ErrorCode::kInvalidArgument, "version '{}' is out of range",
                     text.substr(0, 40));
  }
  return std::optional<int64_t>(version);
}

Result<std::optional<size_t>> HeaderLength(const HttpRequest& request) {
  std::string_view text = request.Header("inference-header-content-length");
  if (text.empty()) return std::optional<size_t>();
  size_t length = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), length);
  if (error != std::errc() || end != text.data() + text.size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "Inference-Header-Content-Length must be a byte count");
  }
  return std::optional<size_t>(length);
}

Result<DecodedInfer> Decode(const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto header_length, HeaderLength(request));
  FALAJ_ASSIGN_OR_RETURN(auto decoded, DecodeInferRequest(request.body, header_length));
  decoded.request.project = request.PathParam("project");
  decoded.request.name = request.PathParam("model");
  FALAJ_ASSIGN_OR_RETURN(decoded.request.version, PinnedVersion(request));
  return decoded;
}

HttpResponse Encode(const serving::InferResponse& response, const DecodedInfer& decoded) {
  EncodedInfer encoded = EncodeInferResponse(response, decoded);
  HttpResponse answer =
      encoded.header_length
          ? HttpResponse::Text(200, "application/octet-stream", std::move(encoded.body))
          : HttpResponse::Text(200, "application/json", std::move(encoded.body));
  if (encoded.header_length) {
    answer.headers.emplace_back("Inference-Header-Content-Length",
                                std::to_string(*encoded.header_length));
  }
  // Which arm answered, readable without parsing the body (proxies, load tests, logs).
  if (!response.arm.empty()) answer.headers.emplace_back("X-Falaj-Arm", response.arm);
  return answer;
}

Result<HttpResponse> Infer(serving::InferenceService& inference, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto decoded, Decode(request));
  FALAJ_ASSIGN_OR_RETURN(auto response, inference.Infer(decoded.request));
  return Encode(response, decoded);
}

std::optional<HttpResponse> InferWithoutBlocking(serving::InferenceService& inference,
                                                 const HttpRequest& request) {
  auto decoded = Decode(request);
  if (!decoded) return ProtocolError(decoded.error());
  auto response = inference.TryInferWithoutBlocking(decoded->request);
  if (!response) return std::nullopt;
  if (!*response) return ProtocolError(response->error());
  return Encode(**response, *decoded);
}

nlohmann::json TensorsJson(const std::vector<serving::TensorMetadata>& tensors) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& tensor : tensors) {
    list.push_back({{"name", tensor.name}, {"datatype", tensor.datatype}, {"shape", tensor.shape}});
  }
  return list;
}

Result<HttpResponse> Metadata(serving::InferenceService& inference, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto version, PinnedVersion(request));
  FALAJ_ASSIGN_OR_RETURN(auto metadata, inference.Metadata(request.PathParam("project"),
                                                           request.PathParam("model"), version));
  return HttpResponse::Json(200, {{"name", metadata.name},
                                  {"versions", metadata.versions},
                                  {"platform", metadata.platform},
                                  {"inputs", TensorsJson(metadata.inputs)},
                                  {"outputs", TensorsJson(metadata.outputs)}});
}

Result<HttpResponse> Ready(serving::InferenceService& inference, const HttpRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(auto version, PinnedVersion(request));
  Status ready = inference.Ready(request.PathParam("project"), request.PathParam("model"), version);
  if (!ready && ready.error().code != ErrorCode::kNotFound &&
      ready.error().code != ErrorCode::kInvalidArgument) {
    // The protocol carries "not ready" as a 4xx (as Triton answers), with the reason.
    return HttpResponse::Json(400, {{"error", "not ready: " + ready.error().message}});
  }
  FALAJ_RETURN_IF_ERROR(ready);
  return HttpResponse::Json(
      200,
      {{"name", request.PathParam("project") + "." + request.PathParam("model")}, {"ready", true}});
}

}  // namespace

Status AddKServeRoutes(Router& router, serving::InferenceService& inference) {
  const std::string pub(kPublicPermission);
  FALAJ_RETURN_IF_ERROR(router.Add({"GET", "/v2", pub, Execution::kInline, false, [](HttpRequest&) {
                                      return HttpResponse::Json(
                                          200, {{"name", "falaj"},
                                                {"version", FALAJ_VERSION},
                                                {"extensions", {"binary_tensor_data"}}});
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
    FALAJ_RETURN_IF_ERROR(router.Add(
        {"GET", base, "models.read", Execution::kWorker, false, [&inference](HttpRequest& request) {
           return AnswerProtocol([&] { return Metadata(inference, request); });
         }}));
    FALAJ_RETURN_IF_ERROR(router.Add({"GET", base + "/ready", "models.read", Execution::kWorker,
                                      false, [&inference](HttpRequest& request) {
                                        return AnswerProtocol(
                                            [&] { return Ready(inference, request); });
                                      }}));
    Route infer{"POST",
                base + "/infer",
                "models.predict",
                Execution::kWorker,
                false,
                [&inference](HttpRequest& request) {
                  return AnswerProtocol([&] { return Infer(inference, request); });
                }};
    infer.fast_handler = [&inference](HttpRequest& request) {
      return InferWithoutBlocking(inference, request);
    };
    // Predictions read the model; auditing each one would put a durable write on the hot path.
    infer.audit_exempt = true;
    // A missing project means a missing model, which Infer answers with 404 itself.
    infer.skip_project_check = true;
    FALAJ_RETURN_IF_ERROR(router.Add(std::move(infer)));
  }
  return Ok();
}

}  // namespace falaj::api
