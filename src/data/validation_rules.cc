#include "data/validation_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <span>

#include "data/row_checks.h"
#include "data/yaml_json.h"

namespace falaj::data {
namespace {

using nlohmann::json;

constexpr std::string_view kColumnRuleKeys[] = {"column", "type",           "not_null",
                                                "range",  "allowed_values", "regex",
                                                "unique", "freshness",      "mostly"};

// Where a problem is, for messages: "rules[2] (column 'iban')".
std::string RuleLocation(size_t index, const json& entry) {
  auto column = entry.find("column");
  if (column != entry.end() && column->is_string()) {
    return fmt::format("rules[{}] (column '{}')", index, column->get<std::string>());
  }
  return fmt::format("rules[{}]", index);
}

std::unexpected<Error> Invalid(std::string_view where, std::string_view key,
                               std::string_view problem) {
  return MakeError(ErrorCode::kInvalidArgument, "{}: '{}' {}", where, key, problem);
}

std::string MustBe(std::string_view what, const json& value) {
  return fmt::format("must be {}, not {}", what, value.type_name());
}

Status RejectUnknownKeys(std::string_view where, const json& object,
                         std::span<const std::string_view> allowed) {
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return Invalid(where, key, "is not a known key");
    }
  }
  return Ok();
}

Result<bool> ParseBool(std::string_view where, std::string_view key, const json& value) {
  if (!value.is_boolean()) return Invalid(where, key, MustBe("true or false", value));
  return value.get<bool>();
}

Result<RangeBound> ParseBound(std::string_view where, std::string_view key, const json& value) {
  if (value.is_number_integer() &&
      (!value.is_number_unsigned() || value.get<uint64_t>() <= uint64_t{INT64_MAX})) {
    return RangeBound(value.get<int64_t>());
  }
  if (!value.is_number()) return Invalid(where, key, MustBe("a number", value));
  double number = value.get<double>();
  if (!std::isfinite(number)) return Invalid(where, key, "must be a finite number");
  return RangeBound(number);
}

long double BoundValue(const RangeBound& bound) {
  return std::visit([](auto value) { return static_cast<long double>(value); }, bound);
}

Result<RangeCheck> ParseRange(std::string_view where, const json& value) {
  if (!value.is_object()) return Invalid(where, "range", MustBe("an object", value));
  static constexpr std::string_view kKeys[] = {"min", "max"};
  FALAJ_RETURN_IF_ERROR(RejectUnknownKeys(fmt::format("{}: 'range'", where), value, kKeys));
  RangeCheck range;
  if (auto min = value.find("min"); min != value.end()) {
    FALAJ_ASSIGN_OR_RETURN(range.min, ParseBound(where, "range.min", *min));
  }
  if (auto max = value.find("max"); max != value.end()) {
    FALAJ_ASSIGN_OR_RETURN(range.max, ParseBound(where, "range.max", *max));
  }
  if (!range.min && !range.max) return Invalid(where, "range", "needs min, max or both");
  if (range.min && range.max && BoundValue(*range.min) > BoundValue(*range.max)) {
    return Invalid(where, "range", "has min greater than max");
  }
  return range;
}

Result<AllowedValues> ParseAllowedValues(std::string_view where, const json& value) {
  constexpr std::string_view kKey = "allowed_values";
  if (!value.is_array() || value.empty()) {
    return Invalid(where, kKey, "must be a non-empty list of strings or of integers");
  }
  if (value.front().is_string()) {
    std::vector<std::string> strings;
    for (const auto& item : value) {
      if (!item.is_string()) return Invalid(where, kKey, "mixes strings with other values");
      strings.push_back(item.get<std::string>());
    }
    return AllowedValues(std::move(strings));
  }
  std::vector<int64_t> integers;
  for (const auto& item : value) {
    if (!item.is_number_integer() ||
        (item.is_number_unsigned() && item.get<uint64_t>() > uint64_t{INT64_MAX})) {
      return Invalid(where, kKey, "must be all strings or all integers (quote strings in YAML)");
    }
    integers.push_back(item.get<int64_t>());
  }
  return AllowedValues(std::move(integers));
}

Result<std::string> ParseRegex(std::string_view where, const json& value) {
  if (!value.is_string()) return Invalid(where, "regex", MustBe("a string", value));
  std::string pattern = value.get<std::string>();
  if (pattern.empty()) return Invalid(where, "regex", "must not be empty");
  if (auto status = CheckRegexSyntax(pattern); !status) {
    return Invalid(where, "regex", status.error().message);
  }
  return pattern;
}

Result<DeclaredType> ParseType(std::string_view where, const json& value) {
  constexpr DeclaredType kTypes[] = {DeclaredType::kInt64, DeclaredType::kFloat64,
                                     DeclaredType::kString, DeclaredType::kBool,
                                     DeclaredType::kTimestamp};
  if (value.is_string()) {
    for (DeclaredType type : kTypes) {
      if (value.get<std::string>() == DeclaredTypeName(type)) return type;
    }
  }
  return Invalid(where, "type", "must be one of int64, float64, string, bool, timestamp");
}

Result<std::chrono::seconds> ParseFreshness(std::string_view where, const json& value) {
  if (!value.is_object()) return Invalid(where, "freshness", MustBe("an object", value));
  static constexpr std::string_view kKeys[] = {"max_age"};
  FALAJ_RETURN_IF_ERROR(RejectUnknownKeys(fmt::format("{}: 'freshness'", where), value, kKeys));
  auto max_age = value.find("max_age");
  if (max_age == value.end()) return Invalid(where, "freshness", "needs max_age");
  if (!max_age->is_string()) {
    return Invalid(where, "freshness.max_age", MustBe("a duration such as \"24h\"", *max_age));
  }
  auto duration = ParseDuration(max_age->get<std::string>());
  if (!duration) return Invalid(where, "freshness.max_age", duration.error().message);
  return *duration;
}

Result<double> ParseMostly(std::string_view where, const json& value) {
  if (!value.is_number()) return Invalid(where, "mostly", MustBe("a number", value));
  double mostly = value.get<double>();
  if (!(mostly > 0.0 && mostly <= 1.0)) return Invalid(where, "mostly", "must be in (0, 1]");
  return mostly;
}

Result<RowCountCheck> ParseRowCount(std::string_view where, const json& value) {
  if (!value.is_object()) return Invalid(where, "row_count", MustBe("an object", value));
  static constexpr std::string_view kKeys[] = {"min", "max"};
  FALAJ_RETURN_IF_ERROR(RejectUnknownKeys(fmt::format("{}: 'row_count'", where), value, kKeys));
  RowCountCheck check;
  for (auto [key, bound] : {std::pair{"min", &check.min}, std::pair{"max", &check.max}}) {
    auto found = value.find(key);
    if (found == value.end()) continue;
    if (!found->is_number_integer() || found->get<int64_t>() < 0 ||
        (found->is_number_unsigned() && found->get<uint64_t>() > uint64_t{INT64_MAX})) {
      return Invalid(where, fmt::format("row_count.{}", key), "must be a non-negative integer");
    }
    *bound = found->get<int64_t>();
  }
  if (!check.min && !check.max) return Invalid(where, "row_count", "needs min, max or both");
  if (check.min && check.max && *check.min > *check.max) {
    return Invalid(where, "row_count", "has min greater than max");
  }
  return check;
}

// The checks of a column rule other than `column` and `mostly`.
Status ParseColumnChecks(std::string_view where, const json& entry, ValidationRule& rule) {
  for (const auto& [key, value] : entry.items()) {
    if (key == "type") {
      FALAJ_ASSIGN_OR_RETURN(rule.type, ParseType(where, value));
    } else if (key == "not_null") {
      FALAJ_ASSIGN_OR_RETURN(rule.not_null, ParseBool(where, key, value));
    } else if (key == "range") {
      FALAJ_ASSIGN_OR_RETURN(rule.range, ParseRange(where, value));
    } else if (key == "allowed_values") {
      FALAJ_ASSIGN_OR_RETURN(rule.allowed_values, ParseAllowedValues(where, value));
    } else if (key == "regex") {
      FALAJ_ASSIGN_OR_RETURN(rule.regex, ParseRegex(where, value));
    } else if (key == "unique") {
      FALAJ_ASSIGN_OR_RETURN(rule.unique, ParseBool(where, key, value));
    } else if (key == "freshness") {
      FALAJ_ASSIGN_OR_RETURN(rule.freshness_max_age, ParseFreshness(where, value));
    } else if (key == "mostly") {
      FALAJ_ASSIGN_OR_RETURN(rule.mostly, ParseMostly(where, value));
    }
  }
  return Ok();
}

bool HasRowCheck(const ValidationRule& rule) {
  return rule.not_null || rule.range || rule.allowed_values || rule.regex || rule.unique;
}

Result<ValidationRule> ParseRule(size_t index, const json& entry) {
  std::string where = RuleLocation(index, entry);
  if (!entry.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: {}", where, MustBe("an object", entry));
  }
  ValidationRule rule;
  if (entry.contains("row_count")) {
    static constexpr std::string_view kKeys[] = {"row_count"};
    FALAJ_RETURN_IF_ERROR(RejectUnknownKeys(where, entry, kKeys));
    FALAJ_ASSIGN_OR_RETURN(rule.row_count, ParseRowCount(where, *entry.find("row_count")));
    return rule;
  }
  FALAJ_RETURN_IF_ERROR(RejectUnknownKeys(where, entry, kColumnRuleKeys));
  auto column = entry.find("column");
  if (column == entry.end()) return Invalid(where, "column", "is required (or 'row_count')");
  if (!column->is_string() || column->get<std::string>().empty()) {
    return Invalid(where, "column", "must be a non-empty string");
  }
  rule.column = column->get<std::string>();
  FALAJ_RETURN_IF_ERROR(ParseColumnChecks(where, entry, rule));
  if (!HasRowCheck(rule) && !rule.type && !rule.freshness_max_age) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: has no check", where);
  }
  if (entry.contains("mostly") && !HasRowCheck(rule)) {
    return Invalid(where, "mostly", "applies only to row checks, and this rule has none");
  }
  return rule;
}

json BoundToJson(const RangeBound& bound) {
  return std::visit([](auto value) { return json(value); }, bound);
}

json RuleToJson(const ValidationRule& rule) {
  json out = json::object();
  if (rule.row_count) {
    json& bounds = out["row_count"] = json::object();
    if (rule.row_count->min) bounds["min"] = *rule.row_count->min;
    if (rule.row_count->max) bounds["max"] = *rule.row_count->max;
    return out;
  }
  out["column"] = rule.column;
  if (rule.type) out["type"] = DeclaredTypeName(*rule.type);
  if (rule.not_null) out["not_null"] = true;
  if (rule.range) {
    json& bounds = out["range"] = json::object();
    if (rule.range->min) bounds["min"] = BoundToJson(*rule.range->min);
    if (rule.range->max) bounds["max"] = BoundToJson(*rule.range->max);
  }
  if (rule.allowed_values) {
    out["allowed_values"] =
        std::visit([](const auto& list) { return json(list); }, *rule.allowed_values);
  }
  if (rule.regex) out["regex"] = *rule.regex;
  if (rule.unique) out["unique"] = true;
  if (rule.freshness_max_age) {
    out["freshness"] = {{"max_age", FormatDuration(*rule.freshness_max_age)}};
  }
  if (rule.mostly != 1.0) out["mostly"] = rule.mostly;
  return out;
}

}  // namespace

Result<ValidationRules> ParseRulesYaml(std::string_view yaml) {
  FALAJ_ASSIGN_OR_RETURN(auto json, YamlToJson(yaml));
  return ParseRulesJson(json);
}

Result<ValidationRules> ParseRulesJson(const json& document) {
  if (!document.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "validation rules {}",
                     MustBe("an object", document));
  }
  static constexpr std::string_view kKeys[] = {"policy", "rules"};
  FALAJ_RETURN_IF_ERROR(RejectUnknownKeys("validation rules", document, kKeys));
  ValidationRules rules;
  if (auto policy = document.find("policy"); policy != document.end()) {
    if (*policy == "strict") {
      rules.policy = ValidationPolicy::kStrict;
    } else if (*policy != "quarantine") {
      return Invalid("validation rules", "policy", "must be \"quarantine\" or \"strict\"");
    }
  }
  auto list = document.find("rules");
  if (list == document.end()) return rules;
  if (!list->is_array()) return Invalid("validation rules", "rules", MustBe("a list", *list));
  for (size_t i = 0; i < list->size(); ++i) {
    FALAJ_ASSIGN_OR_RETURN(auto rule, ParseRule(i, (*list)[i]));
    rules.rules.push_back(std::move(rule));
  }
  return rules;
}

json RulesToJson(const ValidationRules& rules) {
  json list = json::array();
  for (const auto& rule : rules.rules) list.push_back(RuleToJson(rule));
  return {{"policy", PolicyName(rules.policy)}, {"rules", std::move(list)}};
}

std::string_view PolicyName(ValidationPolicy policy) {
  return policy == ValidationPolicy::kStrict ? "strict" : "quarantine";
}

std::string_view DeclaredTypeName(DeclaredType type) {
  switch (type) {
    case DeclaredType::kInt64:
      return "int64";
    case DeclaredType::kFloat64:
      return "float64";
    case DeclaredType::kString:
      return "string";
    case DeclaredType::kBool:
      return "bool";
    case DeclaredType::kTimestamp:
      return "timestamp";
  }
  return "unknown";
}

Result<std::chrono::seconds> ParseDuration(std::string_view text) {
  constexpr std::pair<char, int64_t> kUnits[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
  // At most ~3000 years: far beyond any freshness need, and far from int64 overflow.
  constexpr int64_t kMaxSeconds = int64_t{100000} * 1000 * 1000;
  int64_t count = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (error == std::errc() && count > 0 && end + 1 == text.data() + text.size()) {
    for (auto [unit, seconds] : kUnits) {
      if (*end == unit && count <= kMaxSeconds / seconds) {
        return std::chrono::seconds(count * seconds);
      }
    }
  }
  return MakeError(ErrorCode::kInvalidArgument,
                   "'{}' is not a duration: a positive integer and s, m, h or d, as in \"24h\"",
                   text.substr(0, 40));
}

std::string FormatDuration(std::chrono::seconds duration) {
  int64_t seconds = duration.count();
  if (seconds != 0 && seconds % 86400 == 0) return fmt::format("{}d", seconds / 86400);
  if (seconds != 0 && seconds % 3600 == 0) return fmt::format("{}h", seconds / 3600);
  if (seconds != 0 && seconds % 60 == 0) return fmt::format("{}m", seconds / 60);
  return fmt::format("{}s", seconds);
}

}  // namespace falaj::data
