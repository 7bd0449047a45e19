// The inference service: the one entry point both KServe v2 transports (HTTP and gRPC) call.
// It resolves a served name (an endpoint of the project, else a model of the project) to a model
// version — by the endpoint's traffic weights, or the pinned version — gets it loaded from the
// model manager, validates the inputs against the model, and runs the batch, through the
// endpoint's dynamic batcher when it has one.
//
// Authentication and authorisation are the transports' job; every method here assumes the
// caller may use models of `project` (permission models.predict / models.read).
//
// Thread-safe: every method may be called concurrently.
#pragma once

#include <optional>
#include <string_view>

#include "common/result.h"
#include "serving/inference.h"

namespace falaj::serving {

class InferenceService {
 public:
  virtual ~InferenceService() = default;

  // Runs a request. May block (loading a model, waiting for a batch): call it where blocking is
  // allowed. For an endpoint with a feature service the inputs are entity keys (and request-time
  // features) rather than the model's rows (feature_provider.h). Errors: NOT_FOUND (unknown name
  // or version), INVALID_ARGUMENT (wrong input name, datatype, shape, value count, forbidden
  // NaN/Inf, unknown requested output, missing entity key), RESOURCE_EXHAUSTED (batch queue
  // full), DEADLINE_EXCEEDED, UNAVAILABLE (model failed to load, or the endpoint's feature service
  // no longer resolves; the reason is in the message).
  virtual Result<InferResponse> Infer(InferRequest& request) = 0;

  // Runs a request only if it can be answered without blocking: the model is loaded and ready,
  // its endpoint does not batch, and routing needs no storage read. nullopt means "call Infer
  // on a thread that may block"; a value is the same answer Infer would give.
  virtual std::optional<Result<InferResponse>> TryInferWithoutBlocking(InferRequest& request) = 0;

  // KServe v2 model metadata for a served name (and optionally a pinned version).
  virtual Result<ModelMetadata> Metadata(std::string_view project, std::string_view name,
                                         std::optional<int64_t> version) = 0;

  // OK when the name (and version) can serve now; loads the model if it is not loaded.
  // UNAVAILABLE with the reason (loading, failed: …) otherwise.
  virtual Status Ready(std::string_view project, std::string_view name,
                       std::optional<int64_t> version) = 0;
};

}  // namespace falaj::serving
