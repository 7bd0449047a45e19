#include "abtest/ab_test.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/json_fields.h"
#include "common/resource_names.h"

namespace falaj::abtest {
namespace {

constexpr size_t kMaxMetrics = 20;
constexpr size_t kMaxDescription = 4096;

template <typename Enum, size_t N>
Result<Enum> ParseEnum(std::string_view field, std::string_view value,
                       const std::pair<std::string_view, Enum> (&names)[N]) {
  std::string allowed;
  for (const auto& [name, parsed] : names) {
    if (name == value) return parsed;
    allowed += (allowed.empty() ? "" : ", ") + std::string(name);
  }
  return MakeError(ErrorCode::kInvalidArgument, "'{}' must be one of {}, not '{}'", field, allowed,
                   value.substr(0, 64));
}

constexpr std::pair<std::string_view, MetricKind> kKinds[] = {
    {"conversion", MetricKind::kConversion}, {"numeric", MetricKind::kNumeric}};
constexpr std::pair<std::string_view, MetricRole> kRoles[] = {
    {"primary", MetricRole::kPrimary},
    {"guardrail", MetricRole::kGuardrail},
    {"secondary", MetricRole::kSecondary}};
constexpr std::pair<std::string_view, PolicyMode> kModes[] = {{"manual", PolicyMode::kManual},
                                                              {"auto", PolicyMode::kAuto}};
constexpr std::pair<std::string_view, TestStatus> kStatuses[] = {
    {"running", TestStatus::kRunning},
    {"stopped", TestStatus::kStopped},
    {"promoted", TestStatus::kPromoted},
    {"rolled_back", TestStatus::kRolledBack}};

template <typename Enum, size_t N>
std::string_view EnumName(Enum value, const std::pair<std::string_view, Enum> (&names)[N]) {
  for (const auto& [name, candidate] : names) {
    if (candidate == value) return name;
  }
  return "unknown";
}

Result<std::optional<double>> OptionalNumber(const nlohmann::json& object, std::string_view field) {
  auto found = object.find(field);
  if (found == object.end() || found->is_null()) return std::optional<double>();
  if (!found->is_number()) {
    return MakeError(ErrorCode::kInvalidArgument, "'{}' must be a number", field);
  }
  return std::optional<double>(found->get<double>());
}

Status RequireInOpenUnit(std::string_view field, double value) {
  if (!(value > 0 && value < 1)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'{}' must be between 0 and 1 (exclusive), not {}", field, value);
  }
  return Ok();
}

Result<MetricSpec> MetricFromJson(const nlohmann::json& json, size_t index) {
  if (!json.is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "'metrics[{}]' must be an object", index);
  }
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      json, {"name", "kind", "role", "higher_is_better", "harm_threshold"}));
  MetricSpec metric;
  FALAJ_ASSIGN_OR_RETURN(metric.name, json::RequiredString(json, "name"));
  FALAJ_ASSIGN_OR_RETURN(auto kind, json::OptionalString(json, "kind"));
  if (kind) {
    FALAJ_ASSIGN_OR_RETURN(metric.kind, ParseEnum("kind", *kind, kKinds));
  }
  FALAJ_ASSIGN_OR_RETURN(auto role, json::OptionalString(json, "role"));
  if (role) {
    FALAJ_ASSIGN_OR_RETURN(metric.role, ParseEnum("role", *role, kRoles));
  }
  FALAJ_ASSIGN_OR_RETURN(auto higher, json::OptionalBool(json, "higher_is_better"));
  metric.higher_is_better = higher.value_or(true);
  FALAJ_ASSIGN_OR_RETURN(auto harm, OptionalNumber(json, "harm_threshold"));
  if (harm && metric.role != MetricRole::kGuardrail) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'metrics[{}].harm_threshold' applies to guardrail metrics only", index);
  }
  metric.harm_threshold = harm.value_or(0);
  return metric;
}

Status ValidateMetrics(const std::vector<MetricSpec>& metrics) {
  if (metrics.empty() || metrics.size() > kMaxMetrics) {
    return MakeError(ErrorCode::kInvalidArgument, "'metrics' must list 1 to {} metrics, not {}",
                     kMaxMetrics, metrics.size());
  }
  std::set<std::string_view> names;
  size_t primaries = 0;
  for (const auto& metric : metrics) {
    FALAJ_RETURN_IF_ERROR(ValidateName("metric name", metric.name));
    if (!names.insert(metric.name).second) {
      return MakeError(ErrorCode::kInvalidArgument, "metric '{}' is listed twice", metric.name);
    }
    if (!std::isfinite(metric.harm_threshold) || metric.harm_threshold < 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "metric '{}': 'harm_threshold' must be a finite number >= 0", metric.name);
    }
    if (metric.role == MetricRole::kPrimary) ++primaries;
  }
  if (primaries != 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "exactly one metric must have role 'primary' ({} have)", primaries);
  }
  return Ok();
}

}  // namespace

const MetricSpec& AbTest::primary() const {
  return *std::find_if(metrics.begin(), metrics.end(), [](const MetricSpec& metric) {
    return metric.role == MetricRole::kPrimary;
  });
}

const MetricSpec* AbTest::FindMetric(std::string_view metric) const {
  auto found = std::find_if(metrics.begin(), metrics.end(),
                            [&](const MetricSpec& spec) { return spec.name == metric; });
  return found == metrics.end() ? nullptr : &*found;
}

std::string_view MetricKindName(MetricKind kind) { return EnumName(kind, kKinds); }
std::string_view MetricRoleName(MetricRole role) { return EnumName(role, kRoles); }
std::string_view PolicyModeName(PolicyMode mode) { return EnumName(mode, kModes); }
std::string_view TestStatusName(TestStatus status) { return EnumName(status, kStatuses); }
Result<TestStatus> ParseTestStatus(std::string_view name) {
  return ParseEnum("status", name, kStatuses);
}

Status Validate(const AbTest& test) {
  FALAJ_RETURN_IF_ERROR(ValidateName("test name", test.name));
  FALAJ_RETURN_IF_ERROR(ValidateName("endpoint", test.endpoint));
  FALAJ_RETURN_IF_ERROR(ValidateName("control", test.control));
  FALAJ_RETURN_IF_ERROR(ValidateName("treatment", test.treatment));
  if (test.control == test.treatment) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'control' and 'treatment' must be different arms (both are '{}')",
                     test.control);
  }
  FALAJ_RETURN_IF_ERROR(ValidateMetrics(test.metrics));
  if (!std::isfinite(test.minimum_detectable_effect) || test.minimum_detectable_effect <= 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'minimum_detectable_effect' must be a relative lift > 0 (0.05 = 5 %)");
  }
  FALAJ_RETURN_IF_ERROR(RequireInOpenUnit("alpha", test.alpha));
  FALAJ_RETURN_IF_ERROR(RequireInOpenUnit("power", test.power));
  if (!(test.tuning_units >= 10 && test.tuning_units <= 1e12)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'sequential_tuning_units' must be between 10 and 1e12 total units");
  }
  if (!test.promote_alias.empty()) {
    FALAJ_RETURN_IF_ERROR(ValidateName("promote_alias", test.promote_alias));
  }
  if (test.description.size() > kMaxDescription) {
    return MakeError(ErrorCode::kInvalidArgument, "'description' is longer than {} bytes",
                     kMaxDescription);
  }
  return Ok();
}

Result<AbTest> AbTestFromJson(const nlohmann::json& body) {
  if (!body.is_object())
    return MakeError(ErrorCode::kInvalidArgument, "the body must be an object");
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      body,
      {"name", "endpoint", "control", "treatment", "metrics", "minimum_detectable_effect", "alpha",
       "power", "sequential_tuning_units", "policy", "promote_alias", "description"}));
  AbTest test;
  FALAJ_ASSIGN_OR_RETURN(test.name, json::RequiredString(body, "name"));
  FALAJ_ASSIGN_OR_RETURN(test.endpoint, json::RequiredString(body, "endpoint"));
  FALAJ_ASSIGN_OR_RETURN(test.control, json::RequiredString(body, "control"));
  FALAJ_ASSIGN_OR_RETURN(test.treatment, json::RequiredString(body, "treatment"));
  auto metrics = body.find("metrics");
  if (metrics == body.end() || !metrics->is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "'metrics' must be an array of metrics");
  }
  if (metrics->size() > kMaxMetrics) {
    return MakeError(ErrorCode::kInvalidArgument, "'metrics' must list 1 to {} metrics, not {}",
                     kMaxMetrics, metrics->size());
  }
  for (size_t i = 0; i < metrics->size(); ++i) {
    FALAJ_ASSIGN_OR_RETURN(auto metric, MetricFromJson((*metrics)[i], i));
    test.metrics.push_back(std::move(metric));
  }
  FALAJ_ASSIGN_OR_RETURN(auto mde, OptionalNumber(body, "minimum_detectable_effect"));
  FALAJ_ASSIGN_OR_RETURN(auto alpha, OptionalNumber(body, "alpha"));
  FALAJ_ASSIGN_OR_RETURN(auto power, OptionalNumber(body, "power"));
  FALAJ_ASSIGN_OR_RETURN(auto tuning, OptionalNumber(body, "sequential_tuning_units"));
  test.minimum_detectable_effect = mde.value_or(test.minimum_detectable_effect);
  test.alpha = alpha.value_or(test.alpha);
  test.power = power.value_or(test.power);
  test.tuning_units = tuning.value_or(test.tuning_units);
  FALAJ_ASSIGN_OR_RETURN(auto policy, json::OptionalString(body, "policy"));
  if (policy) {
    FALAJ_ASSIGN_OR_RETURN(test.policy, ParseEnum("policy", *policy, kModes));
  }
  FALAJ_ASSIGN_OR_RETURN(auto alias, json::OptionalString(body, "promote_alias"));
  test.promote_alias = alias.value_or("");
  FALAJ_ASSIGN_OR_RETURN(auto description, json::OptionalString(body, "description"));
  test.description = description.value_or("");
  FALAJ_RETURN_IF_ERROR(Validate(test));
  return test;
}

nlohmann::json DefinitionToJson(const AbTest& test) {
  nlohmann::json metrics = nlohmann::json::array();
  for (const auto& metric : test.metrics) {
    nlohmann::json json = {{"name", metric.name},
                           {"kind", MetricKindName(metric.kind)},
                           {"role", MetricRoleName(metric.role)},
                           {"higher_is_better", metric.higher_is_better}};
    if (metric.role == MetricRole::kGuardrail) json["harm_threshold"] = metric.harm_threshold;
    metrics.push_back(std::move(json));
  }
  return {{"name", test.name},
          {"endpoint", test.endpoint},
          {"control", test.control},
          {"treatment", test.treatment},
          {"metrics", metrics},
          {"minimum_detectable_effect", test.minimum_detectable_effect},
          {"alpha", test.alpha},
          {"power", test.power},
          {"sequential_tuning_units", test.tuning_units},
          {"policy", PolicyModeName(test.policy)},
          {"promote_alias", test.promote_alias},
          {"description", test.description}};
}

nlohmann::json AbTestToJson(const AbTest& test) {
  nlohmann::json json = DefinitionToJson(test);
  json["id"] = test.id;
  json["project"] = test.project;
  json["status"] = TestStatusName(test.status);
  json["weights"] = {{test.control, test.control_weight}, {test.treatment, test.treatment_weight}};
  json["created_by"] = test.created_by;
  return json;
}

}  // namespace falaj::abtest
