// Translation between the KServe v2 gRPC messages (proto/grpc_predict_v2.proto) and the
// transport-neutral serving types: model names and versions, input tensors (typed contents or
// raw_input_contents) decoded to float32 — integer tensors also keep their exact values, for
// entity keys — and responses encoded back. Internal to the gRPC
// transport; the protobuf types are only forward-declared here so that no protobuf header leaks
// out of the transport's .cc files. Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "serving/inference.h"

namespace inference {
class ModelInferRequest;
class ModelInferResponse;
class ModelMetadataResponse;
}  // namespace inference

namespace falaj::api {

// The largest request message accepted, as the HTTP body limit. It also bounds the elements of
// a tensor shape: every element costs at least one byte on the wire.
inline constexpr size_t kGrpcMaxMessageBytes = size_t{64} << 20;

struct ModelRef {
  std::string project;
  std::string name;
};

// Splits "<project>.<name>" at the first '.'. NOT_FOUND, explaining the form, when either part
// is missing.
Result<ModelRef> ParseModelName(std::string_view model_name);

// "" → no version; a positive decimal integer → that version; INVALID_ARGUMENT otherwise.
Result<std::optional<int64_t>> ParseModelVersion(std::string_view version);

// Fills the id, inputs (decoded to float32) and requested output names of `out` from `in`; the
// caller sets the model, version and timing. INVALID_ARGUMENT (naming the input) for an unknown
// or BYTES datatype, a shape over the size limit, contents that do not match the datatype or the
// shape's element count, a raw_input_contents count that differs from the inputs count, or a mix
// of typed and raw contents, or more than kMaxRequestParameters parameters. String and integer
// parameters are kept in out.parameters (for sticky assignment).
Status DecodeInferRequest(const inference::ModelInferRequest& in, serving::InferRequest& out);

// Fills `out` from a served response, with string parameters "served_model" and, when an
// endpoint routed the request, "endpoint" and "arm". The output values go to raw_output_contents
// when `raw`, else to each output's fp32_contents.
void EncodeInferResponse(serving::InferResponse&& in, bool raw, inference::ModelInferResponse& out);

void EncodeModelMetadata(const serving::ModelMetadata& in, inference::ModelMetadataResponse& out);

}  // namespace falaj::api
