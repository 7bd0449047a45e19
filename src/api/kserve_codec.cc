#include "api/kserve_codec.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/json_fields.h"

namespace falaj::api {
namespace {

using serving::DataType;

Status Invalid(std::string message) {
  return std::unexpected(Error{ErrorCode::kInvalidArgument, std::move(message)});
}

// Appends the values of a (possibly nested) row-major `data` array as float32, checking each
// against the declared datatype.
Status FlattenJson(const nlohmann::json& data, DataType type, const std::string& name, size_t limit,
                   std::vector<float>& out) {
  if (data.is_array()) {
    for (const auto& item : data) {
      FALAJ_RETURN_IF_ERROR(FlattenJson(item, type, name, limit, out));
    }
    return Ok();
  }
  if (out.size() >= limit) {
    return Invalid(fmt::format("input '{}' holds more values than its shape", name));
  }
  switch (type) {
    case DataType::kBool:
      if (!data.is_boolean()) {
        return Invalid(fmt::format("input '{}' is BOOL; found {}", name, data.type_name()));
      }
      out.push_back(data.get<bool>() ? 1.0f : 0.0f);
      return Ok();
    case DataType::kFp32:
    case DataType::kFp64:
      if (!data.is_number()) {
        return Invalid(fmt::format("input '{}' is {}; found {}", name, serving::DataTypeName(type),
                                   data.type_name()));
      }
      out.push_back(static_cast<float>(data.get<double>()));
      return Ok();
    default:
      if (!data.is_number_integer()) {
        return Invalid(fmt::format("input '{}' is {}; found {}", name, serving::DataTypeName(type),
                                   data.is_number() ? "a fractional number" : data.type_name()));
      }
      if (data.is_number_unsigned()) {
        out.push_back(static_cast<float>(data.get<uint64_t>()));
      } else {
        out.push_back(static_cast<float>(data.get<int64_t>()));
      }
      return Ok();
  }
}

Result<std::optional<int64_t>> BinaryDataSize(const nlohmann::json& tensor,
                                              const std::string& name) {
  auto parameters = tensor.find("parameters");
  if (parameters == tensor.end()) return std::optional<int64_t>();
  if (!parameters->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "'parameters' of '{}' must be an object", name);
  }
  auto size = parameters->find("binary_data_size");
  if (size == parameters->end()) return std::optional<int64_t>();
  if (!size->is_number_integer() || size->get<int64_t>() < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'binary_data_size' of '{}' must be a non-negative integer", name);
  }
  return std::optional<int64_t>(size->get<int64_t>());
}

Result<serving::InferInput> DecodeInput(const nlohmann::json& tensor, std::string_view& binary) {
  if (!tensor.is_object()) return MakeError(ErrorCode::kInvalidArgument, "an input is an object");
  FALAJ_RETURN_IF_ERROR(
      json::RejectUnknownFields(tensor, {"name", "shape", "datatype", "parameters", "data"}));
  serving::InferInput input;
  FALAJ_ASSIGN_OR_RETURN(input.name, json::RequiredString(tensor, "name"));
  input.name = input.name.substr(0, 256);
  FALAJ_ASSIGN_OR_RETURN(auto datatype, json::RequiredString(tensor, "datatype"));
  auto type = serving::ParseDataType(datatype);
  if (!type) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}' has unknown datatype '{}'",
                     input.name, datatype.substr(0, 20));
  }
  input.datatype = *type;
  auto shape = tensor.find("shape");
  if (shape == tensor.end() || !shape->is_array() || shape->size() > 8) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' needs a 'shape': a list of at most 8 dimensions", input.name);
  }
  for (const auto& dim : *shape) {
    if (!dim.is_number_integer()) {
      return MakeError(ErrorCode::kInvalidArgument, "input '{}' shape must hold integers",
                       input.name);
    }
    input.shape.push_back(dim.get<int64_t>());
  }
  FALAJ_ASSIGN_OR_RETURN(size_t count, serving::ElementCount(input.shape, kMaxTensorElements));
  if (input.datatype == DataType::kBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' has datatype BYTES; the model takes numeric tensors", input.name);
  }
  FALAJ_ASSIGN_OR_RETURN(auto binary_size, BinaryDataSize(tensor, input.name));
  auto data = tensor.find("data");
  if (binary_size) {
    if (data != tensor.end()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "input '{}' has both 'data' and 'binary_data_size'", input.name);
    }
    if (static_cast<uint64_t>(*binary_size) > binary.size()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "input '{}' declares {} binary bytes; only {} follow the JSON header",
                       input.name, *binary_size, binary.size());
    }
    auto bytes = std::as_bytes(std::span(binary.data(), static_cast<size_t>(*binary_size)));
    binary.remove_prefix(static_cast<size_t>(*binary_size));
    Status decoded = serving::DecodeToFloat(input.datatype, bytes, count, input.values);
    if (!decoded) {
      return MakeError(ErrorCode::kInvalidArgument, "input '{}': {}", input.name,
                       decoded.error().message);
    }
    return input;
  }
  if (data == tensor.end()) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}' has no 'data'", input.name);
  }
  if (input.datatype == DataType::kFp16) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' is FP16, which has no JSON form; send it with the binary tensor "
                     "data extension",
                     input.name);
  }
  input.values.reserve(count);
  FALAJ_RETURN_IF_ERROR(FlattenJson(*data, input.datatype, input.name, count, input.values));
  if (input.values.size() != count) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}' has {} values; its shape needs {}",
                     input.name, input.values.size(), count);
  }
  return input;
}

Result<bool> BoolParameter(const nlohmann::json& holder, std::string_view name) {
  auto parameters = holder.find("parameters");
  if (parameters == holder.end()) return false;
  if (!parameters->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "'parameters' must be an object");
  }
  auto value = parameters->find(name);
  if (value == parameters->end()) return false;
  if (!value->is_boolean()) {
    return MakeError(ErrorCode::kInvalidArgument, "parameter '{}' must be true or false", name);
  }
  return value->get<bool>();
}

void AppendFloat(std::string& out, float value) {
  if (!std::isfinite(value)) {
    out += "null";  // JSON has no NaN or infinity
    return;
  }
  char buffer[32];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, end);
}

void AppendString(std::string& out, std::string_view text) {
  out += nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

Result<DecodedInfer> DecodeInferRequest(std::string_view body,
                                        std::optional<size_t> header_length) {
  std::string_view header = body;
  std::string_view binary;
  if (header_length) {
    if (*header_length > body.size()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "Inference-Header-Content-Length is {} but the body has {} bytes",
                       *header_length, body.size());
    }
    header = body.substr(0, *header_length);
    binary = body.substr(*header_length);
  }
  FALAJ_ASSIGN_OR_RETURN(auto json, json::ParseObject(header));
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(json, {"id", "inputs", "outputs", "parameters"}));
  DecodedInfer decoded;
  if (auto id = json.find("id"); id != json.end()) {
    if (!id->is_string()) return MakeError(ErrorCode::kInvalidArgument, "'id' must be a string");
    decoded.request.id = id->get<std::string>().substr(0, 256);
  }
  auto inputs = json.find("inputs");
  if (inputs == json.end() || !inputs->is_array() || inputs->empty() || inputs->size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "'inputs' must be a list of 1 to 64 tensors");
  }
  for (const auto& tensor : *inputs) {
    FALAJ_ASSIGN_OR_RETURN(auto input, DecodeInput(tensor, binary));
    decoded.request.inputs.push_back(std::move(input));
  }
  if (!binary.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "{} bytes follow the JSON header that no input's binary_data_size claims",
                     binary.size());
  }
  FALAJ_ASSIGN_OR_RETURN(decoded.all_outputs_binary, BoolParameter(json, "binary_data_output"));
  if (auto outputs = json.find("outputs"); outputs != json.end()) {
    if (!outputs->is_array() || outputs->size() > 64) {
      return MakeError(ErrorCode::kInvalidArgument, "'outputs' must be a list of at most 64");
    }
    for (const auto& output : *outputs) {
      if (!output.is_object()) {
        return MakeError(ErrorCode::kInvalidArgument, "a requested output is an object");
      }
      FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(output, {"name", "parameters"}));
      FALAJ_ASSIGN_OR_RETURN(auto name, json::RequiredString(output, "name"));
      FALAJ_ASSIGN_OR_RETURN(bool binary_output, BoolParameter(output, "binary_data"));
      if (binary_output) decoded.binary_outputs.push_back(name);
      decoded.request.outputs.push_back(std::move(name));
    }
  }
  return decoded;
}

EncodedInfer EncodeInferResponse(const serving::InferResponse& response,
                                 const DecodedInfer& decoded) {
  EncodedInfer encoded;
  std::string& out = encoded.body;
  std::string binary;
  out.reserve(160);
  out += "{\"model_name\":";
  AppendString(out, response.model_name);
  out += ",\"model_version\":";
  AppendString(out, response.model_version);
  if (!response.id.empty()) {
    out += ",\"id\":";
    AppendString(out, response.id);
  }
  out += ",\"parameters\":{\"served_model\":";
  AppendString(out, response.served_model);
  if (!response.endpoint.empty()) {
    out += ",\"endpoint\":";
    AppendString(out, response.endpoint);
  }
  out += "},\"outputs\":[";
  bool first_output = true;
  for (const auto& output : response.outputs) {
    if (!first_output) out += ',';
    first_output = false;
    out += "{\"name\":";
    AppendString(out, output.name);
    out += ",\"datatype\":\"";
    out += serving::DataTypeName(output.datatype);
    out += "\",\"shape\":[";
    for (size_t i = 0; i < output.shape.size(); ++i) {
      if (i > 0) out += ',';
      out += std::to_string(output.shape[i]);
    }
    out += ']';
    bool as_binary = decoded.all_outputs_binary ||
                     std::find(decoded.binary_outputs.begin(), decoded.binary_outputs.end(),
                               output.name) != decoded.binary_outputs.end();
    if (as_binary) {
      size_t size = output.data.size() * sizeof(float);
      out += ",\"parameters\":{\"binary_data_size\":";
      out += std::to_string(size);
      out += "}}";
      size_t offset = binary.size();
      binary.resize(offset + size);
      std::memcpy(binary.data() + offset, output.data.data(), size);
      continue;
    }
    out += ",\"data\":[";
    for (size_t i = 0; i < output.data.size(); ++i) {
      if (i > 0) out += ',';
      AppendFloat(out, output.data[i]);
    }
    out += "]}";
  }
  out += "]}";
  if (!binary.empty() || decoded.all_outputs_binary || !decoded.binary_outputs.empty()) {
    encoded.header_length = out.size();
    out += binary;
  }
  return encoded;
}

}  // namespace falaj::api
