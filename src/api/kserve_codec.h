// The KServe v2 / Open Inference Protocol HTTP encoding: request bodies (JSON tensors, and the
// binary tensor data extension) into serving::InferRequest — integer tensors also keep their
// exact values, for entity keys — and serving::InferResponse back into a body. Pure functions over
// bytes, so they are fuzzed and unit-tested without a server. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "serving/inference.h"

namespace falaj::api {

// Most elements one input may hold (rows × features); keeps a hostile shape from asking for an
// absurd allocation before the body is even read.
inline constexpr size_t kMaxTensorElements = size_t{1} << 26;

struct DecodedInfer {
  serving::InferRequest request;
  // Whether each output is wanted in binary form (the extension's binary_data and
  // binary_data_output parameters); by output name, "" standing for "every output".
  bool all_outputs_binary = false;
  std::vector<std::string> binary_outputs;
};

// `header_length` is the value of the Inference-Header-Content-Length header: absent (nullopt)
// for a plain JSON body, else the byte length of the JSON part, the tensor bytes following it.
// INVALID_ARGUMENT naming the problem for anything malformed.
Result<DecodedInfer> DecodeInferRequest(std::string_view body, std::optional<size_t> header_length);

struct EncodedInfer {
  std::string body;
  std::optional<size_t> header_length;  // set when the body carries binary outputs
};

EncodedInfer EncodeInferResponse(const serving::InferResponse& response,
                                 const DecodedInfer& decoded);

}  // namespace falaj::api
