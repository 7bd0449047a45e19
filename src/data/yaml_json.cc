#include "data/yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "data/value_text.h"

namespace falaj::data {
namespace {

using nlohmann::json;

constexpr std::string_view kStringTag = "tag:yaml.org,2002:str";

Result<json> Fail(const YAML::Node& node, std::string_view what) {
  return MakeError(ErrorCode::kInvalidArgument, "YAML line {}, column {}: {}", node.Mark().line + 1,
                   node.Mark().column + 1, what);
}

// Parses `digits` in `base`, INVALID_ARGUMENT if it does not fit in int64.
Result<json> ParseInteger(const YAML::Node& node, std::string_view text, int base) {
  bool negative = !text.empty() && text.front() == '-';
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  if (base != 10) text.remove_prefix(2);  // "0x" or "0o"
  uint64_t magnitude = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), magnitude, base);
  uint64_t limit = negative ? uint64_t{1} << 63 : uint64_t{INT64_MAX};
  if (error != std::errc() || end != text.data() + text.size() || magnitude > limit) {
    return Fail(node, "integer out of range");
  }
  if (negative) return json(static_cast<int64_t>(0 - magnitude));
  return json(static_cast<int64_t>(magnitude));
}

bool IsDigits(std::string_view text, std::string_view alphabet) {
  return !text.empty() && text.find_first_not_of(alphabet) == std::string_view::npos;
}

std::string_view WithoutSign(std::string_view text) {
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  return text;
}

// [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
bool IsCoreFloat(std::string_view text) {
  text = WithoutSign(text);
  size_t exponent = text.find_first_of("eE");
  std::string_view mantissa = text.substr(0, exponent);
  if (exponent != std::string_view::npos) {
    if (!IsDigits(WithoutSign(text.substr(exponent + 1)), "0123456789")) return false;
  }
  size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) return IsDigits(mantissa, "0123456789");
  std::string_view whole = mantissa.substr(0, dot);
  std::string_view fraction = mantissa.substr(dot + 1);
  if (whole.empty()) return IsDigits(fraction, "0123456789");
  return IsDigits(whole, "0123456789") && (fraction.empty() || IsDigits(fraction, "0123456789"));
}

// The core schema's resolution of a plain (unquoted, untagged) scalar.
Result<json> ResolvePlainScalar(const YAML::Node& node) {
  const std::string& text = node.Scalar();
  std::string_view unsigned_text = WithoutSign(text);
  if (text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL") {
    return json(nullptr);
  }
  if (text == "true" || text == "True" || text == "TRUE") return json(true);
  if (text == "false" || text == "False" || text == "FALSE") return json(false);
  if (IsDigits(unsigned_text, "0123456789")) return ParseInteger(node, text, 10);
  if (text.starts_with("0o") && IsDigits(text.substr(2), "01234567")) {
    return ParseInteger(node, text, 8);
  }
  if (text.starts_with("0x") && IsDigits(text.substr(2), "0123456789abcdefABCDEF")) {
    return ParseInteger(node, text, 16);
  }
  if (IsCoreFloat(text)) {
    double value = std::strtod(text.c_str(), nullptr);
    if (!std::isfinite(value)) return Fail(node, "number out of range");
    return json(value);
  }
  if (unsigned_text == ".inf" || unsigned_text == ".Inf" || unsigned_text == ".INF") {
    double infinity = std::numeric_limits<double>::infinity();
    return json(text.front() == '-' ? -infinity : infinity);
  }
  if (text == ".nan" || text == ".NaN" || text == ".NAN") {
    return json(std::numeric_limits<double>::quiet_NaN());
  }
  return json(text);
}

// Bounds the work a hostile document can cause: nesting depth, and total nodes (aliases can
// make a small document expand exponentially).
struct Budget {
  int64_t nodes_left = 100000;
};

Result<json> Convert(const YAML::Node& node, int depth, Budget& budget);

Result<json> ConvertMap(const YAML::Node& node, int depth, Budget& budget) {
  json object = json::object();
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) return Fail(entry.first, "mapping keys must be scalars");
    const std::string& key = entry.first.Scalar();
    if (!IsValidUtf8(key)) return Fail(entry.first, "key is not valid UTF-8");
    if (object.contains(key)) return Fail(entry.first, "duplicate key '" + key + "'");
    FALAJ_ASSIGN_OR_RETURN(object[key], Convert(entry.second, depth + 1, budget));
  }
  return object;
}

Result<json> Convert(const YAML::Node& node, int depth, Budget& budget) {
  if (depth > 64) return Fail(node, "nesting deeper than 64 levels");
  if (--budget.nodes_left < 0) return Fail(node, "more than 100000 nodes");
  const std::string& tag = node.Tag();
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return json(nullptr);
    case YAML::NodeType::Scalar:
      // JSON text must be UTF-8 (nlohmann's dump throws otherwise); yaml-cpp does not check.
      if (!IsValidUtf8(node.Scalar())) return Fail(node, "text is not valid UTF-8");
      if (tag == "!" || tag == kStringTag) return json(node.Scalar());
      if (tag == "?") return ResolvePlainScalar(node);
      return Fail(node, "unsupported tag '" + tag + "'");
    case YAML::NodeType::Sequence: {
      json array = json::array();
      for (const auto& item : node) {
        FALAJ_ASSIGN_OR_RETURN(auto value, Convert(item, depth + 1, budget));
        array.push_back(std::move(value));
      }
      return array;
    }
    case YAML::NodeType::Map:
      return ConvertMap(node, depth, budget);
    case YAML::NodeType::Undefined:
      break;
  }
  return Fail(node, "undefined node");
}

}  // namespace

Result<json> YamlToJson(std::string_view text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& error) {
    return MakeError(ErrorCode::kInvalidArgument, "YAML line {}, column {}: {}",
                     error.mark.line + 1, error.mark.column + 1, error.msg);
  } catch (const std::exception& error) {
    return MakeError(ErrorCode::kInvalidArgument, "YAML: {}", error.what());
  }
  try {
    Budget budget;
    return Convert(root, 0, budget);
  } catch (const YAML::Exception& error) {
    return MakeError(ErrorCode::kInvalidArgument, "YAML: {}", error.msg);
  } catch (const std::exception& error) {
    return MakeError(ErrorCode::kInvalidArgument, "YAML: {}", error.what());
  }
}

}  // namespace falaj::data
