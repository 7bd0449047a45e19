// Inference with features. An endpoint may name a feature service of its project: a request then
// carries only entity keys (plus any request-time features) and the server reads the service's
// features from the online store in-process before running the model — one hop instead of two.
//
// This header is the serving module's side of it. FeatureProvider is how serving reaches the
// features module without depending on it (the api layer implements it over
// features::OnlineFeatures). AssembleFeatureRows builds a model's float32 input rows from a
// request:
//
//   inputs named after the service's join keys   integer tensors of shape [N] or [N, 1], read as
//                                                 exact int64 (ids above 2^24 stay exact)
//   every other input, in the request's order     request-time features: numeric [N] or [N, k]
//
//   row i = [the service's features for entity i, in the service's order | request-time features]
//
// A feature the online store does not have for an entity (NOT_FOUND, OUTSIDE_MAX_AGE, null) is
// NaN, which tree models treat as missing. Only numeric, bool and timestamp features can feed a
// model; a service with a string feature does not resolve.
//
// Thread-safety: a ResolvedFeatureService is immutable and may be used from any number of
// threads; FeatureProvider implementations must allow concurrent calls. The free functions are
// pure.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "serving/inference.h"
#include "serving/tensor.h"

namespace falaj::serving {

// The entity keys of a request: one exact int64 column per join key of the service, in the order
// of ResolvedFeatureService::join_keys(), each `rows` long. Non-owning.
struct EntityKeys {
  std::span<const std::span<const int64_t>> columns;
  size_t rows = 0;
};

// Where Fetch writes: entity r's feature f goes to data[r * stride + f]. Non-owning.
struct FeatureMatrix {
  std::span<float> data;
  size_t rows = 0;
  size_t stride = 0;  // at least the number of features
};

// A feature service resolved for serving, held by the predictor's remembered route.
class ResolvedFeatureService {
 public:
  virtual ~ResolvedFeatureService() = default;

  // The service's join keys: the inputs a request must carry, in the order Fetch takes them.
  virtual const std::vector<std::string>& join_keys() const = 0;
  // The features Fetch writes ("view:feature"), in the order the model receives them.
  virtual const std::vector<std::string>& features() const = 0;
  // False once the definitions it was resolved from may have changed: resolve again.
  virtual bool current() const = 0;
  // True when Fetch waits on the network (a remote online store): it must not run on an I/O
  // thread.
  virtual bool remote() const = 0;
  // Reads the features of keys.rows entities (one online-store lookup per feature view) into
  // out.data[r * out.stride + f] for every feature f, as float32; missing values are NaN.
  // Preconditions: keys has one column per join key; out.rows == keys.rows; out.stride >=
  // features().size(); out.data holds rows × stride floats. Errors: UNAVAILABLE and others from
  // the online store.
  virtual Status Fetch(const EntityKeys& keys, const FeatureMatrix& out) const = 0;
};

class FeatureProvider {
 public:
  virtual ~FeatureProvider() = default;

  // Resolves a feature service of a project (reads definitions: may block). NOT_FOUND when the
  // service does not exist; INVALID_ARGUMENT naming the feature when one cannot feed a model (a
  // string) or a view is not materialised online.
  virtual Result<std::shared_ptr<const ResolvedFeatureService>> Resolve(
      std::string_view project, std::string_view service) = 0;
};

// Builds the model's input rows for a request to an endpoint with a feature service (see the
// top of this file) into `rows_out` (resized to N × width) and returns N. `endpoint` and
// `service` name them in messages. INVALID_ARGUMENT naming the input for a missing join key, a
// join key that is not an integer tensor of shape [N] or [N, 1], inputs of different row
// counts, or features plus request-time features that do not add up to `width`; the provider's
// errors from Fetch.
Result<size_t> AssembleFeatureRows(const InferRequest& request,
                                   const ResolvedFeatureService& service, std::string_view endpoint,
                                   std::string_view service_name, size_t width,
                                   std::vector<float>& rows_out);

}  // namespace falaj::serving
