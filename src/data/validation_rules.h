// Data validation rules for ingested batches: the model, a strict parser for the YAML form (a
// source's rules file) and the JSON form (the same structure through the REST API), and
// serialisation back to JSON. Parsing checks everything that can be checked without data: keys,
// types, bounds, regex syntax. Pure functions over values; thread-safe.
//
// The format (YAML shown; the JSON form is the same structure):
//
//   policy: quarantine            # optional, default quarantine; or strict
//   rules:                        # optional, default none
//     - column: amount            # a column rule: `column` and at least one check
//       type: float64             # batch-level: the column's Arrow type is of this family
//       not_null: true            # row: the value is not null (NaN is not null)
//       range: {min: 0, max: 10000}   # row: min <= value <= max; either bound may be left out
//       allowed_values: [AED, USD]    # row: all strings, or all integers
//       regex: "^AE[0-9]{21}$"    # row: RE2 syntax, searched (anchor it to match whole values)
//       unique: true              # row: the second and later occurrences of a value fail
//       freshness: {max_age: 24h} # batch-level: the newest value is at most max_age old
//       mostly: 0.99              # optional, in (0, 1], default 1: see below
//     - row_count: {min: 1, max: 1000000}   # a batch rule: inclusive, either bound optional
//
// Each check of a column rule is judged on its own: a row check passes when at least `mostly`
// of the rows it evaluated pass it (`mostly` does not apply to batch-level checks and is an
// error on a rule that has none). Within a rule the checks run in the order listed above; rows
// are judged by rules in file order, then by that order. `not_null: false` and `unique: false`
// mean no check. Types: int64 (any integer type whose values fit: int8-64, uint8-32), float64
// (float32/64, and integer types, which CSV inference yields for whole-number batches), string
// (utf8, large_utf8, utf8_view), bool, timestamp (any unit and time zone). A column of Arrow
// type null (no values at all) satisfies every type. Durations are a positive integer and a unit:
// s, m, h or d ("30s", "15m", "24h", "7d").
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"

namespace falaj::data {

enum class ValidationPolicy {
  // Rows failing a row check are quarantined and the rest accepted; a failing batch-level check
  // rejects the batch.
  kQuarantine,
  // As quarantine, but any row check below its `mostly` threshold also rejects the batch.
  kStrict,
};

enum class DeclaredType { kInt64, kFloat64, kString, kBool, kTimestamp };

// A range bound keeps the number as written, so integer bounds compare exactly with int64 data.
using RangeBound = std::variant<int64_t, double>;

struct RangeCheck {
  std::optional<RangeBound> min{};  // inclusive; finite
  std::optional<RangeBound> max{};  // inclusive; finite; not below min
  bool operator==(const RangeCheck&) const = default;
};

// Either all strings (for string columns) or all integers (for integer columns).
using AllowedValues = std::variant<std::vector<std::string>, std::vector<int64_t>>;

struct RowCountCheck {
  std::optional<int64_t> min{};  // inclusive, >= 0
  std::optional<int64_t> max{};  // inclusive, >= min
  bool operator==(const RowCountCheck&) const = default;
};

// One entry of `rules`: a column rule (column set, row_count unset) or a batch rule.
struct ValidationRule {
  std::string column{};
  std::optional<DeclaredType> type{};
  bool not_null = false;
  std::optional<RangeCheck> range{};
  std::optional<AllowedValues> allowed_values{};  // not empty
  std::optional<std::string> regex{};
  bool unique = false;
  std::optional<std::chrono::seconds> freshness_max_age{};  // positive
  double mostly = 1.0;
  std::optional<RowCountCheck> row_count{};
  bool operator==(const ValidationRule&) const = default;
};

struct ValidationRules {
  ValidationPolicy policy = ValidationPolicy::kQuarantine;
  std::vector<ValidationRule> rules{};
  bool operator==(const ValidationRules&) const = default;
};

// Parses the YAML form. INVALID_ARGUMENT for YAML syntax errors (with line and column) and for
// everything ParseRulesJson rejects.
Result<ValidationRules> ParseRulesYaml(std::string_view yaml);

// Parses the JSON form strictly: unknown keys, wrong types, min > max, `mostly` outside (0, 1],
// an empty check list, bad durations and regexes RE2 cannot compile are INVALID_ARGUMENT, the
// message naming the rule ("rules[2] (column 'iban')") and the key ("regex").
Result<ValidationRules> ParseRulesJson(const nlohmann::json& json);

// The JSON form of `rules`; ParseRulesJson(RulesToJson(r)) == r. Durations come out in the
// largest unit that divides them ("24h" becomes "1d").
nlohmann::json RulesToJson(const ValidationRules& rules);

// "quarantine" / "strict"; "int64", "float64", "string", "bool", "timestamp".
std::string_view PolicyName(ValidationPolicy policy);
std::string_view DeclaredTypeName(DeclaredType type);

// "30s", "15m", "24h", "7d" to seconds; INVALID_ARGUMENT otherwise. FormatDuration inverts it.
Result<std::chrono::seconds> ParseDuration(std::string_view text);
std::string FormatDuration(std::chrono::seconds duration);

}  // namespace falaj::data
