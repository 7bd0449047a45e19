#include "api/grpc_infer_codec.h"

#include <array>
#include <charconv>
#include <limits>
#include <span>
#include <type_traits>

#include "grpc_predict_v2.pb.h"
#include "serving/feature_provider.h"

namespace falaj::api {
namespace {

namespace pb = ::inference;
using serving::DataType;

// Names and values from the request are echoed in error messages; a hostile client must not be
// able to make those arbitrarily long.
constexpr size_t kMaxEchoedLength = 64;

std::string_view Clip(std::string_view text) { return text.substr(0, kMaxEchoedLength); }

// The InferTensorContents fields, in field-number order.
enum class Field { kBool, kInt, kInt64, kUint, kUint64, kFp32, kFp64, kBytes };
constexpr std::array<std::string_view, 8> kFieldNames = {
    "bool_contents",   "int_contents",  "int64_contents", "uint_contents",
    "uint64_contents", "fp32_contents", "fp64_contents",  "bytes_contents"};

std::array<int, 8> FieldSizes(const pb::InferTensorContents& contents) {
  return {contents.bool_contents_size(),   contents.int_contents_size(),
          contents.int64_contents_size(),  contents.uint_contents_size(),
          contents.uint64_contents_size(), contents.fp32_contents_size(),
          contents.fp64_contents_size(),   contents.bytes_contents_size()};
}

bool HasTypedContents(const pb::ModelInferRequest::InferInputTensor& input) {
  if (!input.has_contents()) return false;
  for (int size : FieldSizes(input.contents())) {
    if (size > 0) return true;
  }
  return false;
}

// The field that carries a datatype's values; nullopt for FP16, which only travels raw.
std::optional<Field> FieldFor(DataType type) {
  switch (type) {
    case DataType::kBool:
      return Field::kBool;
    case DataType::kInt8:
    case DataType::kInt16:
    case DataType::kInt32:
      return Field::kInt;
    case DataType::kInt64:
      return Field::kInt64;
    case DataType::kUint8:
    case DataType::kUint16:
    case DataType::kUint32:
      return Field::kUint;
    case DataType::kUint64:
      return Field::kUint64;
    case DataType::kFp32:
      return Field::kFp32;
    case DataType::kFp64:
      return Field::kFp64;
    case DataType::kFp16:
      return std::nullopt;
    case DataType::kBytes:
      return Field::kBytes;
  }
  return std::nullopt;
}

// int_contents and uint_contents are shared by narrower types, so a value may not fit the type
// the tensor declares.
struct Range {
  int64_t min;
  int64_t max;
};
std::optional<Range> NarrowRange(DataType type) {
  switch (type) {
    case DataType::kInt8:
      return Range{-128, 127};
    case DataType::kInt16:
      return Range{-32768, 32767};
    case DataType::kUint8:
      return Range{0, 255};
    case DataType::kUint16:
      return Range{0, 65535};
    default:
      return std::nullopt;
  }
}

template <typename Values>
Status AppendAsFloat(const Values& values, std::optional<Range> range, std::string_view input,
                     std::vector<float>& out) {
  out.reserve(out.size() + static_cast<size_t>(values.size()));
  for (auto value : values) {
    if (range &&
        (static_cast<int64_t>(value) < range->min || static_cast<int64_t>(value) > range->max)) {
      return MakeError(ErrorCode::kInvalidArgument, "input '{}' holds {}, outside its datatype",
                       Clip(input), static_cast<int64_t>(value));
    }
    out.push_back(static_cast<float>(value));
  }
  return Ok();
}

// The exact values of integer contents, for entity keys; a uint64 beyond int64 leaves `out`
// empty.
template <typename Values>
void KeepIntegers(const Values& values, std::vector<int64_t>& out) {
  out.reserve(static_cast<size_t>(values.size()));
  for (auto value : values) {
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, uint64_t>) {
      if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        out.clear();
        return;
      }
    }
    out.push_back(static_cast<int64_t>(value));
  }
}

Status DecodeTyped(const pb::ModelInferRequest::InferInputTensor& input, DataType type,
                   size_t count, std::vector<float>& out, std::vector<int64_t>& integers) {
  std::optional<Field> field = FieldFor(type);
  if (!field) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' is {}, which has no typed contents: send it in raw_input_contents",
                     Clip(input.name()), serving::DataTypeName(type));
  }
  const auto sizes = FieldSizes(input.contents());
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] > 0 && i != static_cast<size_t>(*field)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "input '{}' is {} but carries values in {}; {} belong in {}",
                       Clip(input.name()), serving::DataTypeName(type), kFieldNames[i],
                       serving::DataTypeName(type), kFieldNames[static_cast<size_t>(*field)]);
    }
  }
  const size_t found = static_cast<size_t>(sizes[static_cast<size_t>(*field)]);
  if (found != count) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}' has {} values; its shape needs {}",
                     Clip(input.name()), found, count);
  }
  const pb::InferTensorContents& contents = input.contents();
  const std::optional<Range> range = NarrowRange(type);
  switch (*field) {
    case Field::kBool:
      return AppendAsFloat(contents.bool_contents(), range, input.name(), out);
    case Field::kInt:
      KeepIntegers(contents.int_contents(), integers);
      return AppendAsFloat(contents.int_contents(), range, input.name(), out);
    case Field::kInt64:
      KeepIntegers(contents.int64_contents(), integers);
      return AppendAsFloat(contents.int64_contents(), range, input.name(), out);
    case Field::kUint:
      KeepIntegers(contents.uint_contents(), integers);
      return AppendAsFloat(contents.uint_contents(), range, input.name(), out);
    case Field::kUint64:
      KeepIntegers(contents.uint64_contents(), integers);
      return AppendAsFloat(contents.uint64_contents(), range, input.name(), out);
    case Field::kFp32:
      return AppendAsFloat(contents.fp32_contents(), range, input.name(), out);
    case Field::kFp64:
      return AppendAsFloat(contents.fp64_contents(), range, input.name(), out);
    case Field::kBytes:
      break;
  }
  return MakeError(ErrorCode::kInvalidArgument, "input '{}' is BYTES; this model takes numbers",
                   Clip(input.name()));
}

Result<serving::InferInput> DecodeInput(const pb::ModelInferRequest::InferInputTensor& input,
                                        const std::string* raw) {
  std::optional<DataType> type = serving::ParseDataType(input.datatype());
  if (!type) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}' has unknown datatype '{}'",
                     Clip(input.name()), Clip(input.datatype()));
  }
  if (*type == DataType::kBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' is BYTES; this model takes numeric tensors", Clip(input.name()));
  }
  serving::InferInput decoded;
  decoded.name = input.name();
  decoded.datatype = *type;
  decoded.shape.assign(input.shape().begin(), input.shape().end());
  auto count = serving::ElementCount(decoded.shape, kGrpcMaxMessageBytes);
  if (!count) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}': {}", Clip(input.name()),
                     count.error().message);
  }
  if (raw == nullptr) {
    FALAJ_RETURN_IF_ERROR(DecodeTyped(input, *type, *count, decoded.values, decoded.integers));
    return decoded;
  }
  if (HasTypedContents(input)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' carries typed contents although the request uses "
                     "raw_input_contents; use one or the other",
                     Clip(input.name()));
  }
  auto bytes = std::as_bytes(std::span<const char>(raw->data(), raw->size()));
  if (auto status = serving::DecodeToFloat(*type, bytes, *count, decoded.values); !status) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}': {}", Clip(input.name()),
                     status.error().message);
  }
  // Entity keys need the exact values; the float path never pays for this.
  if (serving::IsIntegerType(*type)) {
    (void)serving::DecodeExactIntegers(*type, bytes, *count, decoded.integers);
  }
  return decoded;
}

void SetString(google::protobuf::Map<std::string, pb::InferParameter>& parameters,
               const std::string& key, std::string value) {
  parameters[key].set_string_param(std::move(value));
}

void AddTensorMetadata(
    const std::vector<serving::TensorMetadata>& tensors,
    google::protobuf::RepeatedPtrField<pb::ModelMetadataResponse::TensorMetadata>& out) {
  for (const auto& tensor : tensors) {
    auto* added = out.Add();
    added->set_name(tensor.name);
    added->set_datatype(tensor.datatype);
    added->mutable_shape()->Assign(tensor.shape.begin(), tensor.shape.end());
  }
}

}  // namespace

Result<ModelRef> ParseModelName(std::string_view model_name) {
  size_t dot = model_name.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == model_name.size()) {
    return MakeError(ErrorCode::kNotFound,
                     "model '{}' not found: models are named '<project>.<name>', e.g. "
                     "'fraud.scorer'",
                     Clip(model_name));
  }
  return ModelRef{std::string(model_name.substr(0, dot)), std::string(model_name.substr(dot + 1))};
}

Result<std::optional<int64_t>> ParseModelVersion(std::string_view version) {
  if (version.empty()) return std::optional<int64_t>();
  int64_t number = 0;
  // from_chars accepts no sign, spaces or prefixes except '-', which the range check refuses.
  auto [end, error] = std::from_chars(version.data(), version.data() + version.size(), number);
  if (error != std::errc() || end != version.data() + version.size() || number < 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "model version '{}' is not a version number (a positive integer)",
                     Clip(version));
  }
  return std::optional<int64_t>(number);
}

Status DecodeInferRequest(const inference::ModelInferRequest& in, serving::InferRequest& out) {
  const bool raw = in.raw_input_contents_size() > 0;
  if (raw && in.raw_input_contents_size() != in.inputs_size()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "raw_input_contents has {} entries but there are {} inputs; send one entry "
                     "per input, in the same order",
                     in.raw_input_contents_size(), in.inputs_size());
  }
  out.id = in.id();
  out.inputs.clear();
  out.inputs.reserve(static_cast<size_t>(in.inputs_size()));
  for (int i = 0; i < in.inputs_size(); ++i) {
    FALAJ_ASSIGN_OR_RETURN(auto input,
                           DecodeInput(in.inputs(i), raw ? &in.raw_input_contents(i) : nullptr));
    out.inputs.push_back(std::move(input));
  }
  out.outputs.clear();
  for (const auto& output : in.outputs()) out.outputs.push_back(output.name());
  out.parameters.clear();
  if (static_cast<size_t>(in.parameters_size()) > serving::kMaxRequestParameters) {
    return MakeError(ErrorCode::kInvalidArgument, "the request has more than {} parameters",
                     serving::kMaxRequestParameters);
  }
  // As over HTTP: string and integer parameters, for sticky assignment.
  for (const auto& [key, value] : in.parameters()) {
    if (value.has_string_param()) {
      out.parameters.emplace_back(key, value.string_param());
    } else if (value.has_int64_param()) {
      out.parameters.emplace_back(key, std::to_string(value.int64_param()));
    }
  }
  return Ok();
}

void EncodeInferResponse(serving::InferResponse&& in, bool raw,
                         inference::ModelInferResponse& out) {
  out.set_model_name(std::move(in.model_name));
  out.set_model_version(std::move(in.model_version));
  out.set_id(std::move(in.id));
  auto& parameters = *out.mutable_parameters();
  SetString(parameters, "served_model", std::move(in.served_model));
  // As over HTTP: present only when an endpoint routed the request.
  if (!in.endpoint.empty()) {
    SetString(parameters, "endpoint", std::move(in.endpoint));
    SetString(parameters, "arm", std::move(in.arm));
  }
  for (serving::InferOutput& output : in.outputs) {
    auto* tensor = out.add_outputs();
    tensor->set_name(std::move(output.name));
    // The runtimes compute float32, whatever the inputs were.
    tensor->set_datatype("FP32");
    tensor->mutable_shape()->Assign(output.shape.begin(), output.shape.end());
    if (raw) {
      static_assert(std::numeric_limits<float>::is_iec559, "raw FP32 is IEEE 754 binary32");
      out.add_raw_output_contents()->assign(reinterpret_cast<const char*>(output.data.data()),
                                            output.data.size() * sizeof(float));
    } else {
      tensor->mutable_contents()->mutable_fp32_contents()->Assign(output.data.begin(),
                                                                  output.data.end());
    }
  }
}

void EncodeModelMetadata(const serving::ModelMetadata& in, inference::ModelMetadataResponse& out) {
  out.set_name(in.name);
  for (const std::string& version : in.versions) out.add_versions(version);
  out.set_platform(in.platform);
  AddTensorMetadata(in.inputs, *out.mutable_inputs());
  AddTensorMetadata(in.outputs, *out.mutable_outputs());
}

}  // namespace falaj::api
