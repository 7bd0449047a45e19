// What one served prediction leaves behind for monitoring and A/B testing, and the sink the
// predictor hands it to. The predictor builds a record only when the sink samples the request,
// and the sink never blocks: a full queue drops the record and counts the drop (the hot path is
// sacred; monitoring is asynchronous and bounded).
//
// Thread-safety: PredictionSink implementations must accept calls from any thread concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace falaj::serving {

struct PredictionRecord {
  std::string project;
  std::string endpoint;  // "" when a model was addressed directly
  std::string model;     // the registry model that answered
  int64_t version = 0;
  std::string arm;      // the endpoint target (traffic arm) that answered; "" outside endpoints
  bool shadow = false;  // a mirrored call whose answer was not returned to the client
  std::string request_id;
  std::string unit_key;  // the sticky-assignment unit (user id, account id); "" when none
  // For endpoints with a feature service: the entity join keys of each row, row-major
  // (rows × entity_key_names.size() values, as text).
  std::vector<std::string> entity_key_names;
  std::vector<std::string> entity_key_values;
  int64_t timestamp_ms = 0;  // wall clock, when the request was received
  int64_t latency_us = 0;    // from receipt to the answer
  // The model's input rows, row-major: rows × feature_names.size() values. Feature names come
  // from the model's signature, else "f0", "f1", …
  std::vector<std::string> feature_names;
  size_t rows = 0;
  std::vector<float> inputs;
  // rows × output_width values of the model's first output.
  std::vector<float> outputs;
  size_t output_width = 1;
  std::string error;  // why the prediction failed; "" on success (then outputs are empty)
};

class PredictionSink {
 public:
  virtual ~PredictionSink() = default;
  // Whether this prediction of the endpoint (or model, when `endpoint` is "") is to be recorded:
  // the sampling decision, taken before anything is copied. Cheap; never blocks.
  virtual bool Sample(std::string_view project, std::string_view endpoint) noexcept = 0;
  // Takes the record. Never blocks: a full queue drops it and counts the drop.
  virtual void Offer(PredictionRecord&& record) noexcept = 0;
};

}  // namespace falaj::serving
