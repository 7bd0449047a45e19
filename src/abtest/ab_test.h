// An A/B test's definition: which endpoint it watches, its control and treatment arms (the
// endpoint's target names), the metrics read from outcomes (one primary, optional guardrails
// with a harm threshold), the planned minimum detectable effect, alpha and power, and the
// decision policy (manual, or automatic promote / roll back / stop). Plain values and pure
// functions (validation and JSON); thread-safe. The semantics are in docs/abtest.md.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace falaj::abtest {

enum class MetricKind {
  kConversion,  // 0/1 per unit, counted once per unit; two-proportion z-test
  kNumeric,     // a value per outcome; Welch's t-test
};

enum class MetricRole {
  kPrimary,    // the metric the test is decided on (exactly one)
  kGuardrail,  // must not get worse by more than harm_threshold
  kSecondary,  // reported only
};

struct MetricSpec {
  std::string name;  // the outcome's metric name
  MetricKind kind = MetricKind::kConversion;
  MetricRole role = MetricRole::kSecondary;
  bool higher_is_better = true;
  // Guardrails only: the absolute worsening tolerated (>= 0, in the metric's units). Harm is
  // declared when the always-valid interval lies entirely beyond it on the bad side.
  double harm_threshold = 0;
};

enum class PolicyMode { kManual, kAuto };

enum class TestStatus { kRunning, kStopped, kPromoted, kRolledBack };

struct AbTest {
  std::string id;  // server-assigned, unique over time (aggregates are keyed by it)
  std::string project;
  std::string name;
  std::string endpoint;
  std::string control;  // the endpoint's target (arm) names
  std::string treatment;
  std::vector<MetricSpec> metrics;
  double minimum_detectable_effect = 0.05;  // relative lift of the primary metric (0.05 = 5 %)
  double alpha = 0.05;
  double power = 0.8;
  double tuning_units = 5000;  // N* of the confidence sequence
  PolicyMode policy = PolicyMode::kManual;
  // On promotion, move this alias of the treatment's model to the treatment's version ("" = none).
  std::string promote_alias;
  std::string description;
  // The split the arms were configured with when the test started (SRM expects it); equal when
  // no traffic control was available to read it.
  double control_weight = 1;
  double treatment_weight = 1;
  TestStatus status = TestStatus::kRunning;
  std::string created_by;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;

  const MetricSpec& primary() const;
  const MetricSpec* FindMetric(std::string_view metric) const;
};

std::string_view MetricKindName(MetricKind kind);
std::string_view MetricRoleName(MetricRole role);
std::string_view PolicyModeName(PolicyMode mode);
std::string_view TestStatusName(TestStatus status);
Result<TestStatus> ParseTestStatus(std::string_view name);

// Names, arms (two different), metrics (1–20, unique names, exactly one primary, known kinds),
// effect, alpha, power and tuning in range. INVALID_ARGUMENT naming the field.
Status Validate(const AbTest& test);

// The definition from a create body (unknown fields refused; server-managed fields refused) and
// back as JSON with the server-managed id, project, status, weights and creator (times are left
// to the caller, which formats them).
Result<AbTest> AbTestFromJson(const nlohmann::json& body);
nlohmann::json AbTestToJson(const AbTest& test);
// Only the user-supplied part, as in a create body (what the store keeps as the definition).
nlohmann::json DefinitionToJson(const AbTest& test);

}  // namespace falaj::abtest
