#include "data/validation_rules.h"

#include <fmt/ranges.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "data/yaml_json.h"

namespace falaj::data {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr std::string_view kExample = R"(
policy: strict
rules:
  - column: amount
    not_null: true
    range: {min: 0, max: 10000}
    mostly: 0.99
  - column: currency
    allowed_values: [AED, USD, EUR]
  - column: iban
    regex: "^AE[0-9]{21}$"
  - column: customer_id
    unique: true
  - column: event_time
    freshness: {max_age: 24h}
  - column: amount
    type: float64
  - column: code
    allowed_values: [1, 2, 3]
    range: {min: 0.5}
  - row_count: {min: 1, max: 1000000}
)";

ValidationRules ExampleRules() {
  ValidationRules rules;
  rules.policy = ValidationPolicy::kStrict;
  rules.rules = {
      {.column = "amount",
       .not_null = true,
       .range = RangeCheck{RangeBound(int64_t{0}), RangeBound(int64_t{10000})},
       .mostly = 0.99},
      {.column = "currency",
       .allowed_values = AllowedValues(std::vector<std::string>{"AED", "USD", "EUR"})},
      {.column = "iban", .regex = "^AE[0-9]{21}$"},
      {.column = "customer_id", .unique = true},
      {.column = "event_time", .freshness_max_age = std::chrono::hours(24)},
      {.column = "amount", .type = DeclaredType::kFloat64},
      {.column = "code",
       .range = RangeCheck{RangeBound(0.5), std::nullopt},
       .allowed_values = AllowedValues(std::vector<int64_t>{1, 2, 3})},
      {.row_count = RowCountCheck{1, 1000000}},
  };
  return rules;
}

// The error message of parsing `yaml`, which must be INVALID_ARGUMENT.
std::string YamlError(std::string_view yaml) {
  auto rules = ParseRulesYaml(yaml);
  EXPECT_FALSE(rules) << yaml;
  if (rules) return "";
  EXPECT_EQ(rules.error().code, ErrorCode::kInvalidArgument) << rules.error().message;
  return rules.error().message;
}

// The error of one rule entry (YAML flow mapping) in an otherwise valid document.
std::string RuleError(std::string_view entry) {
  return YamlError(fmt::format("rules:\n  - {{column: ok, not_null: true}}\n  - {}\n", entry));
}

TEST(ValidationRulesTest, ParsesTheDocumentedYaml) {
  auto rules = ParseRulesYaml(kExample);
  ASSERT_TRUE(rules) << rules.error().message;
  EXPECT_EQ(*rules, ExampleRules());
  // Integer bounds stay integers, so they compare exactly with int64 data.
  EXPECT_TRUE(std::holds_alternative<int64_t>(*rules->rules[0].range->max));
}

TEST(ValidationRulesTest, JsonFormParsesToTheSameRules) {
  json document = json::parse(R"({
    "policy": "strict",
    "rules": [
      {"column": "amount", "not_null": true, "range": {"min": 0, "max": 10000}, "mostly": 0.99},
      {"column": "currency", "allowed_values": ["AED", "USD", "EUR"]},
      {"column": "iban", "regex": "^AE[0-9]{21}$"},
      {"column": "customer_id", "unique": true},
      {"column": "event_time", "freshness": {"max_age": "1d"}},
      {"column": "amount", "type": "float64"},
      {"column": "code", "allowed_values": [1, 2, 3], "range": {"min": 0.5}},
      {"row_count": {"min": 1, "max": 1000000}}
    ]})");
  auto rules = ParseRulesJson(document);
  ASSERT_TRUE(rules) << rules.error().message;
  EXPECT_EQ(*rules, ExampleRules());
}

TEST(ValidationRulesTest, JsonRoundTrip) {
  ValidationRules rules = ExampleRules();
  json written = RulesToJson(rules);
  auto reread = ParseRulesJson(written);
  ASSERT_TRUE(reread) << reread.error().message;
  EXPECT_EQ(*reread, rules);
  // Through text as well, as the REST API and the store carry it.
  auto from_text = ParseRulesJson(json::parse(written.dump()));
  ASSERT_TRUE(from_text) << from_text.error().message;
  EXPECT_EQ(*from_text, rules);
  EXPECT_EQ(written["rules"][4]["freshness"]["max_age"], "1d");
  EXPECT_FALSE(written["rules"][1].contains("mostly"));
}

TEST(ValidationRulesTest, DefaultsAndEmptyDocuments) {
  auto empty = ParseRulesJson(json::object());
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->policy, ValidationPolicy::kQuarantine);
  EXPECT_TRUE(empty->rules.empty());
  auto falses = ParseRulesYaml("rules: [{column: a, not_null: false, unique: false, type: bool}]");
  ASSERT_TRUE(falses) << falses.error().message;
  EXPECT_FALSE(falses->rules[0].not_null);
  EXPECT_EQ(falses->rules[0].mostly, 1.0);
  auto mostly_one = ParseRulesYaml("rules: [{column: a, unique: true, mostly: 1}]");
  ASSERT_TRUE(mostly_one) << mostly_one.error().message;
}

TEST(ValidationRulesTest, DocumentErrors) {
  EXPECT_THAT(YamlError("rules: [1, 2"), HasSubstr("YAML line 1"));
  EXPECT_THAT(YamlError("- a\n- b\n"), HasSubstr("must be an object"));
  EXPECT_THAT(YamlError("policy: lenient\n"), HasSubstr("'policy'"));
  EXPECT_THAT(YamlError("policy: strict\nrule: []\n"), HasSubstr("'rule' is not a known key"));
  EXPECT_THAT(YamlError("rules: {column: a}\n"), HasSubstr("'rules' must be a list"));
  EXPECT_THAT(YamlError("rules:\n  - column: a\n    unique: true\n    unique: false\n"),
              HasSubstr("duplicate key 'unique'"));
  EXPECT_THAT(YamlError("rules: [{column: a, range: {min: 99999999999999999999}}]"),
              HasSubstr("integer out of range"));
  EXPECT_THAT(YamlError("rules: [{column: a, range: {min: !!binary AAAA}}]"),
              HasSubstr("unsupported tag"));
  // JSON must be UTF-8, and yaml-cpp passes bytes through unchecked.
  EXPECT_THAT(YamlError("rules: [{column: \"caf\xE9\", unique: true}]"),
              HasSubstr("not valid UTF-8"));
  EXPECT_THAT(YamlError("rules: [{column: a, \"\xFF\": true}]"), HasSubstr("not valid UTF-8"));
}

TEST(ValidationRulesTest, RuleShapeErrors) {
  EXPECT_THAT(RuleError("just-a-string"), HasSubstr("rules[1]: must be an object"));
  EXPECT_THAT(RuleError("{not_null: true}"), HasSubstr("rules[1]: 'column' is required"));
  EXPECT_THAT(RuleError("{column: '', not_null: true}"), HasSubstr("'column' must be a non-empty"));
  EXPECT_THAT(RuleError("{column: 5, not_null: true}"), HasSubstr("'column' must be a non-empty"));
  EXPECT_THAT(RuleError("{column: amount}"), HasSubstr("rules[1] (column 'amount'): has no check"));
  EXPECT_THAT(RuleError("{column: amount, not_null: false}"), HasSubstr("has no check"));
  EXPECT_THAT(RuleError("{column: amount, nullable: false}"),
              HasSubstr("rules[1] (column 'amount'): 'nullable' is not a known key"));
}

TEST(ValidationRulesTest, CheckTypeErrors) {
  EXPECT_THAT(RuleError("{column: a, not_null: yes}"),
              HasSubstr("rules[1] (column 'a'): 'not_null' must be true or false, not string"));
  EXPECT_THAT(RuleError("{column: a, not_null: 'true'}"), HasSubstr("'not_null' must be true"));
  EXPECT_THAT(RuleError("{column: a, unique: 1}"), HasSubstr("'unique' must be true or false"));
  EXPECT_THAT(RuleError("{column: a, type: float32}"), HasSubstr("'type' must be one of"));
  EXPECT_THAT(RuleError("{column: a, type: [int64]}"), HasSubstr("'type' must be one of"));
}

TEST(ValidationRulesTest, RangeErrors) {
  EXPECT_THAT(RuleError("{column: a, range: 5}"), HasSubstr("'range' must be an object"));
  EXPECT_THAT(RuleError("{column: a, range: {}}"), HasSubstr("'range' needs min, max or both"));
  EXPECT_THAT(RuleError("{column: a, range: {low: 1}}"),
              HasSubstr("rules[1] (column 'a'): 'range': 'low' is not a known key"));
  EXPECT_THAT(RuleError("{column: a, range: {min: ten}}"),
              HasSubstr("'range.min' must be a number, not string"));
  EXPECT_THAT(RuleError("{column: a, range: {max: '5'}}"),
              HasSubstr("'range.max' must be a number"));
  EXPECT_THAT(RuleError("{column: a, range: {min: 10, max: 9.5}}"),
              HasSubstr("'range' has min greater than max"));
  EXPECT_THAT(RuleError("{column: a, range: {max: .inf}}"),
              HasSubstr("'range.max' must be a finite number"));
  EXPECT_THAT(RuleError("{column: a, range: {min: .nan}}"),
              HasSubstr("'range.min' must be a finite"));
  // Equal bounds are a valid (one-value) range.
  EXPECT_TRUE(ParseRulesYaml("rules: [{column: a, range: {min: 3, max: 3.0}}]"));
}

TEST(ValidationRulesTest, AllowedValuesErrors) {
  EXPECT_THAT(RuleError("{column: a, allowed_values: []}"),
              HasSubstr("'allowed_values' must be a non-empty"));
  EXPECT_THAT(RuleError("{column: a, allowed_values: AED}"),
              HasSubstr("'allowed_values' must be a non-empty"));
  EXPECT_THAT(RuleError("{column: a, allowed_values: [AED, 5]}"), HasSubstr("mixes strings"));
  EXPECT_THAT(RuleError("{column: a, allowed_values: [5, AED]}"),
              HasSubstr("all strings or all integers"));
  EXPECT_THAT(RuleError("{column: a, allowed_values: [1.5, 2]}"),
              HasSubstr("all strings or all integers"));
  // Quoted numbers are strings.
  auto quoted = ParseRulesYaml("rules: [{column: a, allowed_values: ['01', '02']}]");
  ASSERT_TRUE(quoted) << quoted.error().message;
  EXPECT_EQ(*quoted->rules[0].allowed_values, AllowedValues(std::vector<std::string>{"01", "02"}));
}

TEST(ValidationRulesTest, RegexErrors) {
  EXPECT_THAT(RuleError("{column: iban, regex: '^AE[0-9'}"),
              HasSubstr("rules[1] (column 'iban'): 'regex' is not a valid RE2 regular expression"));
  EXPECT_THAT(RuleError("{column: iban, regex: '(a'}"), HasSubstr("missing )"));
  EXPECT_THAT(RuleError("{column: iban, regex: ''}"), HasSubstr("'regex' must not be empty"));
  EXPECT_THAT(RuleError("{column: iban, regex: 5}"),
              HasSubstr("'regex' must be a string, not number"));
}

TEST(ValidationRulesTest, FreshnessErrors) {
  EXPECT_THAT(RuleError("{column: t, freshness: 24h}"), HasSubstr("'freshness' must be an object"));
  EXPECT_THAT(RuleError("{column: t, freshness: {}}"), HasSubstr("'freshness' needs max_age"));
  EXPECT_THAT(RuleError("{column: t, freshness: {max_age: 24h, min_age: 1h}}"),
              HasSubstr("'min_age' is not a known key"));
  EXPECT_THAT(RuleError("{column: t, freshness: {max_age: 24}}"),
              HasSubstr("'freshness.max_age' must be a duration"));
  for (std::string_view bad : {"24x", "0h", "-5m", "h", "1.5h", "24 h", "9999999999999d"}) {
    EXPECT_THAT(RuleError(fmt::format("{{column: t, freshness: {{max_age: '{}'}}}}", bad)),
                HasSubstr("is not a duration"))
        << bad;
  }
}

TEST(ValidationRulesTest, MostlyErrors) {
  for (std::string_view bad : {"0", "1.5", "-0.1", ".nan", "0.0"}) {
    EXPECT_THAT(RuleError(fmt::format("{{column: a, not_null: true, mostly: {}}}", bad)),
                HasSubstr("rules[1] (column 'a'): 'mostly' must be in (0, 1]"))
        << bad;
  }
  EXPECT_THAT(RuleError("{column: a, not_null: true, mostly: high}"),
              HasSubstr("'mostly' must be a number"));
  EXPECT_THAT(RuleError("{column: a, freshness: {max_age: 1h}, mostly: 0.5}"),
              HasSubstr("'mostly' applies only to row checks"));
}

TEST(ValidationRulesTest, RowCountErrors) {
  EXPECT_THAT(RuleError("{row_count: {min: -1}}"),
              HasSubstr("rules[1]: 'row_count.min' must be a non-negative integer"));
  EXPECT_THAT(RuleError("{row_count: {max: 1.5}}"),
              HasSubstr("'row_count.max' must be a non-negative"));
  EXPECT_THAT(RuleError("{row_count: {min: 5, max: 4}}"), HasSubstr("'row_count' has min greater"));
  EXPECT_THAT(RuleError("{row_count: {}}"), HasSubstr("'row_count' needs min, max or both"));
  EXPECT_THAT(RuleError("{row_count: 5}"), HasSubstr("'row_count' must be an object"));
  EXPECT_THAT(RuleError("{row_count: {min: 1, mean: 3}}"), HasSubstr("'mean' is not a known key"));
  EXPECT_THAT(RuleError("{row_count: {min: 1}, column: a}"),
              HasSubstr("rules[1] (column 'a'): 'column' is not a known key"));
}

TEST(ValidationRulesTest, JsonSpecificErrors) {
  EXPECT_THAT(ParseRulesJson(json::array()).error().message, HasSubstr("must be an object"));
  auto huge = ParseRulesJson(
      json::parse(R"({"rules": [{"column": "a", "allowed_values": [18446744073709551615]}]})"));
  ASSERT_FALSE(huge);
  EXPECT_THAT(huge.error().message, HasSubstr("allowed_values"));
  auto unsigned_bound = ParseRulesJson(
      json::parse(R"({"rules": [{"column": "a", "range": {"max": 18446744073709551615}}]})"));
  ASSERT_TRUE(unsigned_bound) << unsigned_bound.error().message;
  EXPECT_TRUE(std::holds_alternative<double>(*unsigned_bound->rules[0].range->max));
}

TEST(ValidationRulesTest, Durations) {
  EXPECT_EQ(*ParseDuration("30s"), std::chrono::seconds(30));
  EXPECT_EQ(*ParseDuration("15m"), std::chrono::minutes(15));
  EXPECT_EQ(*ParseDuration("24h"), std::chrono::hours(24));
  EXPECT_EQ(*ParseDuration("7d"), std::chrono::hours(24 * 7));
  EXPECT_EQ(FormatDuration(std::chrono::seconds(90)), "90s");
  EXPECT_EQ(FormatDuration(std::chrono::minutes(90)), "90m");
  EXPECT_EQ(FormatDuration(std::chrono::hours(36)), "36h");
  EXPECT_EQ(FormatDuration(std::chrono::hours(48)), "2d");
}

TEST(YamlToJsonTest, TypesScalarsByTheCoreSchema) {
  auto value = YamlToJson(
      "a: 1\nb: '1'\nc: -0x10\nd: 0o17\ne: 1.5e3\nf: ~\ng:\nh: True\ni: .inf\nj: yes\nk: !!str 5\n"
      "l: [1, x]\nm: -9223372036854775808\n");
  ASSERT_TRUE(value) << value.error().message;
  EXPECT_EQ((*value)["a"], 1);
  EXPECT_EQ((*value)["b"], "1");
  EXPECT_EQ((*value)["c"], "-0x10");  // the core schema's hex has no sign
  EXPECT_EQ((*value)["d"], 15);
  EXPECT_EQ((*value)["e"], 1500.0);
  EXPECT_TRUE((*value)["f"].is_null());
  EXPECT_TRUE((*value)["g"].is_null());
  EXPECT_EQ((*value)["h"], true);
  EXPECT_TRUE(std::isinf((*value)["i"].get<double>()));
  EXPECT_EQ((*value)["j"], "yes");
  EXPECT_EQ((*value)["k"], "5");
  EXPECT_EQ((*value)["l"], json::parse(R"([1, "x"])"));
  EXPECT_EQ((*value)["m"], INT64_MIN);
}

TEST(YamlToJsonTest, BoundsAliasExpansion) {
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char level = 'b'; level <= 'h'; ++level) {
    std::string alias = std::string("*") + static_cast<char>(level - 1);
    bomb += fmt::format("{}: &{} [{}]\n", level, level, fmt::join(std::vector(10, alias), ", "));
  }
  auto value = YamlToJson(bomb);
  ASSERT_FALSE(value);
  EXPECT_THAT(value.error().message, HasSubstr("more than 100000 nodes"));
}

}  // namespace
}  // namespace falaj::data
