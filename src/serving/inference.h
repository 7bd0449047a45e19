// The transport-neutral inference request and response: what the KServe v2 HTTP handler and
// the gRPC service both build and read. Inputs are already decoded to float32 rows (see
// tensor.h); integer inputs also keep their exact values, for entity keys (feature_provider.h).
// Outputs are float32. Plain values; no thread-safety concerns.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "serving/tensor.h"

namespace falaj::serving {

// Most request parameters a transport accepts (they are copied for routing).
inline constexpr size_t kMaxRequestParameters = 32;

struct InferInput {
  std::string name;
  DataType datatype = DataType::kFp32;  // as sent; values are converted to float32
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major, ElementCount(shape) values
  // For integer datatypes (INT*, UINT*) the same values exactly, since float32 rounds integers
  // above 2^24 and entity ids must not be rounded; empty for every other datatype, and for a
  // UINT64 tensor holding a value beyond int64.
  std::vector<int64_t> integers;
};

struct InferRequest {
  std::string id;       // echoed in the response
  std::string project;  // the addressed name is "<project>.<name>"
  std::string name;     // an endpoint of the project, else a model of the project
  // Pins a model version and bypasses endpoint routing.
  std::optional<int64_t> version;
  std::vector<InferInput> inputs;
  // Output names the caller asked for; empty means all of the model's outputs.
  std::vector<std::string> outputs;
  // The request's string and integer parameters (integers as decimal text), by name: where an
  // endpoint's sticky assignment finds its unit key. Empty (no allocation) for most requests.
  std::vector<std::pair<std::string, std::string>> parameters;
  // When the transport received the request, for the end-to-end latency metric.
  std::chrono::steady_clock::time_point received = std::chrono::steady_clock::now();
  // Requests still queued for the batcher at this time fail with DEADLINE_EXCEEDED.
  std::optional<std::chrono::steady_clock::time_point> deadline;
};

struct InferOutput {
  std::string name;
  DataType datatype = DataType::kFp32;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct InferResponse {
  std::string id;
  std::string model_name;     // "<project>.<name>" as addressed
  std::string model_version;  // the registry version number that served, e.g. "3"
  std::string served_model;   // the registry model that served (an endpoint may route to several)
  std::string endpoint;       // the endpoint that routed the request; "" when a model was named
  std::string arm;            // the endpoint's arm (target) that served; "" when a model was named
  std::vector<InferOutput> outputs;
};

// What a served name looks like to a client (KServe v2 model metadata).
struct TensorMetadata {
  std::string name;
  std::string datatype;
  std::vector<int64_t> shape;
};
struct ModelMetadata {
  std::string name;
  std::vector<std::string> versions;
  std::string platform;
  std::vector<TensorMetadata> inputs;
  std::vector<TensorMetadata> outputs;
};

}  // namespace falaj::serving
