#include "api/kserve_codec.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "serving/feature_provider.h"

namespace falaj::api {
namespace {

using serving::DataType;
using simdjson::dom::element;
using simdjson::dom::element_type;

// Bodies up to this size are parsed by a parser kept per thread (and its buffers with it);
// larger ones get a parser of their own, so one huge request does not pin its memory.
constexpr size_t kReusedParserBytes = size_t{1} << 20;

// At most `limit` bytes of `text`, never cutting a UTF-8 sequence in half.
std::string TruncateUtf8(std::string text, size_t limit) {
  if (text.size() <= limit) return text;
  while (limit > 0 && (static_cast<unsigned char>(text[limit]) & 0xC0) == 0x80) --limit;
  text.resize(limit);
  return text;
}

Status Invalid(std::string message) {
  return std::unexpected(Error{ErrorCode::kInvalidArgument, std::move(message)});
}

std::string_view TypeName(const element& value) {
  switch (value.type()) {
    case element_type::ARRAY:
      return "a list";
    case element_type::OBJECT:
      return "an object";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
    case element_type::DOUBLE:
      return "a fractional number";
    default:
      return "an integer";
  }
}

bool IsNumber(const element& value) {
  auto type = value.type();
  return type == element_type::INT64 || type == element_type::UINT64 ||
         type == element_type::DOUBLE;
}

// The members of an object, each at most once, every one of them known.
template <size_t N>
Status ReadMembers(const simdjson::dom::object& object,
                   const std::array<std::string_view, N>& names,
                   std::array<std::optional<element>, N>& values) {
  for (auto [key, value] : object) {
    auto known = std::find(names.begin(), names.end(), key);
    if (known == names.end()) {
      return Invalid(fmt::format("unknown field '{}'", key.substr(0, 64)));
    }
    auto& slot = values[static_cast<size_t>(known - names.begin())];
    if (slot) return Invalid(fmt::format("field '{}' appears twice", key));
    slot = value;
  }
  return Ok();
}

Result<std::string> StringMember(const std::optional<element>& value, std::string_view field) {
  if (!value) return MakeError(ErrorCode::kInvalidArgument, "field '{}' is required", field);
  std::string_view text;
  if (value->get_string().get(text) != simdjson::SUCCESS) {
    return MakeError(ErrorCode::kInvalidArgument, "field '{}' must be a string, not {}", field,
                     TypeName(*value));
  }
  return std::string(text);
}

// Appends the values of a (possibly nested) row-major `data` array as float32, checking each
// against the declared datatype. For an integer datatype `integers` (else null) receives the
// exact values too, except a UINT64 beyond int64, which leaves it short.
Status FlattenJson(const element& data, DataType type, const std::string& name, size_t limit,
                   std::vector<float>& out, std::vector<int64_t>* integers) {
  simdjson::dom::array items;
  if (data.get_array().get(items) == simdjson::SUCCESS) {
    for (element item : items) {
      FALAJ_RETURN_IF_ERROR(FlattenJson(item, type, name, limit, out, integers));
    }
    return Ok();
  }
  if (out.size() >= limit) {
    return Invalid(fmt::format("input '{}' holds more values than its shape", name));
  }
  const element_type kind = data.type();
  switch (type) {
    case DataType::kBool:
      if (kind != element_type::BOOL) {
        return Invalid(fmt::format("input '{}' is BOOL; found {}", name, TypeName(data)));
      }
      out.push_back(data.get_bool().value_unsafe() ? 1.0f : 0.0f);
      return Ok();
    case DataType::kFp32:
    case DataType::kFp64:
      if (!IsNumber(data)) {
        return Invalid(fmt::format("input '{}' is {}; found {}", name, serving::DataTypeName(type),
                                   TypeName(data)));
      }
      out.push_back(static_cast<float>(data.get_double().value_unsafe()));
      return Ok();
    default:
      if (kind == element_type::INT64) {
        const int64_t value = data.get_int64().value_unsafe();
        out.push_back(static_cast<float>(value));
        if (integers != nullptr) integers->push_back(value);
      } else if (kind == element_type::UINT64) {
        out.push_back(static_cast<float>(data.get_uint64().value_unsafe()));
      } else {
        return Invalid(fmt::format("input '{}' is {}; found {}", name, serving::DataTypeName(type),
                                   TypeName(data)));
      }
      return Ok();
  }
}

// The parameter `name` of a tensor or request: absent, or checked by `read`.
Result<std::optional<element>> Parameter(const std::optional<element>& parameters,
                                         std::string_view name) {
  if (!parameters) return std::optional<element>();
  simdjson::dom::object object;
  if (parameters->get_object().get(object) != simdjson::SUCCESS) {
    return MakeError(ErrorCode::kInvalidArgument, "'parameters' must be an object");
  }
  element value;
  if (object.at_key(name).get(value) != simdjson::SUCCESS) return std::optional<element>();
  return std::optional<element>(value);
}

Result<std::optional<int64_t>> BinaryDataSize(const std::optional<element>& parameters,
                                              const std::string& name) {
  FALAJ_ASSIGN_OR_RETURN(auto size, Parameter(parameters, "binary_data_size"));
  if (!size) return std::optional<int64_t>();
  int64_t bytes = 0;
  if (size->get_int64().get(bytes) != simdjson::SUCCESS || bytes < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'binary_data_size' of '{}' must be a non-negative integer", name);
  }
  return std::optional<int64_t>(bytes);
}

Result<bool> BoolParameter(const std::optional<element>& parameters, std::string_view name) {
  FALAJ_ASSIGN_OR_RETURN(auto value, Parameter(parameters, name));
  if (!value) return false;
  bool flag = false;
  if (value->get_bool().get(flag) != simdjson::SUCCESS) {
    return MakeError(ErrorCode::kInvalidArgument, "parameter '{}' must be true or false", name);
  }
  return flag;
}

// The request's string and integer parameters, for sticky assignment (inference.h). Others
// (booleans such as binary_data_output, numbers, objects) mean nothing to routing.
Status DecodeRequestParameters(const std::optional<element>& parameters,
                               std::vector<std::pair<std::string, std::string>>& out) {
  if (!parameters) return Ok();
  simdjson::dom::object object;
  if (parameters->get_object().get(object) != simdjson::SUCCESS) {
    return MakeError(ErrorCode::kInvalidArgument, "'parameters' must be an object");
  }
  if (object.size() > serving::kMaxRequestParameters) {
    return MakeError(ErrorCode::kInvalidArgument, "'parameters' has more than {} entries",
                     serving::kMaxRequestParameters);
  }
  for (auto [key, value] : object) {
    std::string_view text;
    int64_t number = 0;
    if (value.get_string().get(text) == simdjson::SUCCESS) {
      out.emplace_back(std::string(key), std::string(text));
    } else if (value.get_int64().get(number) == simdjson::SUCCESS) {
      out.emplace_back(std::string(key), std::to_string(number));
    }
  }
  return Ok();
}

Result<serving::InferInput> DecodeInput(const element& tensor, std::string_view& binary) {
  simdjson::dom::object object;
  if (tensor.get_object().get(object) != simdjson::SUCCESS) {
    return MakeError(ErrorCode::kInvalidArgument, "an input is an object");
  }
  constexpr std::array<std::string_view, 5> kFields = {"name", "shape", "datatype", "parameters",
                                                       "data"};
  std::array<std::optional<element>, 5> fields;
  FALAJ_RETURN_IF_ERROR(ReadMembers(object, kFields, fields));
  const auto& [name_field, shape_field, datatype_field, parameters, data] = fields;
  serving::InferInput input;
  FALAJ_ASSIGN_OR_RETURN(input.name, StringMember(name_field, "name"));
  input.name = TruncateUtf8(std::move(input.name), 256);
  FALAJ_ASSIGN_OR_RETURN(auto datatype, StringMember(datatype_field, "datatype"));
  auto type = serving::ParseDataType(datatype);
  if (!type) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}' has unknown datatype '{}'",
                     input.name, datatype.substr(0, 20));
  }
  input.datatype = *type;
  simdjson::dom::array shape;
  if (!shape_field || shape_field->get_array().get(shape) != simdjson::SUCCESS ||
      shape.size() > 8) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' needs a 'shape': a list of at most 8 dimensions", input.name);
  }
  for (element dim : shape) {
    int64_t value = 0;
    if (dim.get_int64().get(value) != simdjson::SUCCESS) {
      return MakeError(ErrorCode::kInvalidArgument, "input '{}' shape must hold integers",
                       input.name);
    }
    input.shape.push_back(value);
  }
  FALAJ_ASSIGN_OR_RETURN(size_t count, serving::ElementCount(input.shape, kMaxTensorElements));
  if (input.datatype == DataType::kBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' has datatype BYTES; the model takes numeric tensors", input.name);
  }
  FALAJ_ASSIGN_OR_RETURN(auto binary_size, BinaryDataSize(parameters, input.name));
  if (binary_size) {
    if (data) {
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
    // Entity keys need the exact values; the float path never pays for this.
    if (serving::IsIntegerType(input.datatype)) {
      (void)serving::DecodeExactIntegers(input.datatype, bytes, count, input.integers);
    }
    return input;
  }
  if (!data) return MakeError(ErrorCode::kInvalidArgument, "input '{}' has no 'data'", input.name);
  if (input.datatype == DataType::kFp16) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' is FP16, which has no JSON form; send it with the binary tensor "
                     "data extension",
                     input.name);
  }
  input.values.reserve(count);
  std::vector<int64_t>* integers = nullptr;
  if (serving::IsIntegerType(input.datatype)) {
    input.integers.reserve(count);
    integers = &input.integers;
  }
  FALAJ_RETURN_IF_ERROR(
      FlattenJson(*data, input.datatype, input.name, count, input.values, integers));
  if (input.values.size() != count) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}' has {} values; its shape needs {}",
                     input.name, input.values.size(), count);
  }
  if (input.integers.size() != count) input.integers.clear();  // a UINT64 beyond int64
  return input;
}

Status DecodeOutputs(const element& outputs, DecodedInfer& decoded) {
  simdjson::dom::array list;
  if (outputs.get_array().get(list) != simdjson::SUCCESS || list.size() > 64) {
    return Invalid("'outputs' must be a list of at most 64");
  }
  for (element output : list) {
    simdjson::dom::object object;
    if (output.get_object().get(object) != simdjson::SUCCESS) {
      return Invalid("a requested output is an object");
    }
    constexpr std::array<std::string_view, 2> kFields = {"name", "parameters"};
    std::array<std::optional<element>, 2> fields;
    FALAJ_RETURN_IF_ERROR(ReadMembers(object, kFields, fields));
    FALAJ_ASSIGN_OR_RETURN(auto name, StringMember(fields[0], "name"));
    FALAJ_ASSIGN_OR_RETURN(bool binary_output, BoolParameter(fields[1], "binary_data"));
    if (binary_output) decoded.binary_outputs.push_back(name);
    decoded.request.outputs.push_back(std::move(name));
  }
  return Ok();
}

Result<DecodedInfer> DecodeHeader(const element& document, std::string_view binary) {
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    return MakeError(ErrorCode::kInvalidArgument, "request body must be a JSON object, not {}",
                     TypeName(document));
  }
  constexpr std::array<std::string_view, 4> kFields = {"id", "inputs", "outputs", "parameters"};
  std::array<std::optional<element>, 4> fields;
  FALAJ_RETURN_IF_ERROR(ReadMembers(object, kFields, fields));
  const auto& [id, inputs, outputs, parameters] = fields;
  DecodedInfer decoded;
  if (id) {
    FALAJ_ASSIGN_OR_RETURN(decoded.request.id, StringMember(id, "id"));
    decoded.request.id = TruncateUtf8(std::move(decoded.request.id), 256);
  }
  simdjson::dom::array list;
  if (!inputs || inputs->get_array().get(list) != simdjson::SUCCESS || list.size() == 0 ||
      list.size() > 64) {
    return MakeError(ErrorCode::kInvalidArgument, "'inputs' must be a list of 1 to 64 tensors");
  }
  for (element tensor : list) {
    FALAJ_ASSIGN_OR_RETURN(auto input, DecodeInput(tensor, binary));
    decoded.request.inputs.push_back(std::move(input));
  }
  if (!binary.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "{} bytes follow the JSON header that no input's binary_data_size claims",
                     binary.size());
  }
  FALAJ_ASSIGN_OR_RETURN(decoded.all_outputs_binary,
                         BoolParameter(parameters, "binary_data_output"));
  FALAJ_RETURN_IF_ERROR(DecodeRequestParameters(parameters, decoded.request.parameters));
  if (outputs) FALAJ_RETURN_IF_ERROR(DecodeOutputs(*outputs, decoded));
  return decoded;
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

// A JSON string. The texts written here (names, versions, request ids) came in as valid JSON
// strings or are our own, so they are valid UTF-8; only quotes, backslashes and control
// characters need escaping.
void AppendString(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", static_cast<unsigned>(c));
      out += escaped;
    } else {
      out += c;
    }
  }
  out += '"';
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
  thread_local simdjson::dom::parser reused;
  std::optional<simdjson::dom::parser> own;
  simdjson::dom::parser& parser = header.size() <= kReusedParserBytes ? reused : own.emplace();
  element document;
  if (auto error = parser.parse(header.data(), header.size()).get(document);
      error != simdjson::SUCCESS) {
    return MakeError(ErrorCode::kInvalidArgument, "request body is not valid JSON: {}",
                     simdjson::error_message(error));
  }
  return DecodeHeader(document, binary);
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
    out += ",\"arm\":";
    AppendString(out, response.arm);
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
