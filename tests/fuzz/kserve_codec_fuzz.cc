// libFuzzer harness for the KServe v2 HTTP codec (api/kserve_codec.h). The first byte picks
// whether the body is plain JSON or carries the binary tensor data extension (and then the
// next two bytes give the JSON header's length); the rest is the body. Decoding must either
// succeed or answer INVALID_ARGUMENT — never throw or crash — and a decoded request must be
// self-consistent: every input holds exactly as many values as its shape, and encoding a response
// for it must produce a body whose binary part matches the declared header length.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/kserve_codec.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  std::optional<size_t> header_length;
  if (data[0] & 1) header_length = static_cast<size_t>(data[1]) << 8 | data[2];
  std::string_view body(reinterpret_cast<const char*>(data + 3), size - 3);
  auto decoded = falaj::api::DecodeInferRequest(body, header_length);
  if (!decoded) {
    FUZZ_REQUIRE_ERROR(decoded.error(), falaj::ErrorCode::kInvalidArgument);
    return 0;
  }
  falaj::serving::InferResponse response;
  response.model_name = "p.m";
  response.model_version = "1";
  response.id = decoded->request.id;
  for (const auto& input : decoded->request.inputs) {
    auto count = falaj::serving::ElementCount(input.shape, falaj::api::kMaxTensorElements);
    FUZZ_REQUIRE(count && *count == input.values.size());
    auto& output = response.outputs.emplace_back();
    output.name = input.name;
    output.shape = input.shape;
    output.data = input.values;
  }
  auto encoded = falaj::api::EncodeInferResponse(response, *decoded);
  if (encoded.header_length) FUZZ_REQUIRE(*encoded.header_length <= encoded.body.size());
  return 0;
}
