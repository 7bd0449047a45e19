#include "serving/traffic_policy.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/json_fields.h"

namespace falaj::serving {
namespace {

constexpr size_t kMaxShadows = 4;
constexpr size_t kMaxSteps = 20;
constexpr size_t kMaxMonitored = 16;
constexpr size_t kMaxNameLength = 200;
constexpr int64_t kMaxStepSeconds = 7 * 86400;

Result<std::optional<double>> OptionalNumber(const nlohmann::json& json, std::string_view field) {
  auto found = json.find(field);
  if (found == json.end() || found->is_null()) return std::optional<double>();
  if (!found->is_number() || !std::isfinite(found->get<double>())) {
    return MakeError(ErrorCode::kInvalidArgument, "'{}' must be a number", field);
  }
  return std::optional<double>(found->get<double>());
}

Result<const nlohmann::json*> OptionalObject(const nlohmann::json& json, std::string_view field) {
  auto found = json.find(field);
  if (found == json.end() || found->is_null()) return nullptr;
  if (!found->is_object()) {
    return MakeError(ErrorCode::kInvalidArgument, "'{}' must be an object", field);
  }
  return &*found;
}

Result<AssignmentPolicy> AssignmentFromJson(const nlohmann::json& json) {
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(json, {"unit_key", "required"}));
  AssignmentPolicy assignment;
  FALAJ_ASSIGN_OR_RETURN(assignment.unit_key, json::RequiredString(json, "unit_key"));
  FALAJ_ASSIGN_OR_RETURN(auto required, json::OptionalBool(json, "required"));
  assignment.required = required.value_or(false);
  return assignment;
}

Result<std::vector<ShadowPolicy>> ShadowsFromJson(const nlohmann::json& json) {
  if (!json.is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "'shadow' must be a list of {{arm, percent}}");
  }
  if (json.size() > kMaxShadows) {
    return MakeError(ErrorCode::kInvalidArgument, "at most {} shadow arms, got {}", kMaxShadows,
                     json.size());
  }
  std::vector<ShadowPolicy> shadows;
  for (const auto& item : json) {
    if (!item.is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "a shadow is an object {{arm, percent}}");
    }
    FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(item, {"arm", "percent"}));
    ShadowPolicy shadow;
    FALAJ_ASSIGN_OR_RETURN(shadow.arm, json::RequiredString(item, "arm"));
    FALAJ_ASSIGN_OR_RETURN(auto percent, OptionalNumber(item, "percent"));
    shadow.percent = percent.value_or(100);
    shadows.push_back(std::move(shadow));
  }
  return shadows;
}

Result<Guardrails> GuardrailsFromJson(const nlohmann::json& json) {
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      json, {"max_error_rate", "max_p99_latency_ms", "min_requests", "monitored"}));
  Guardrails guardrails;
  FALAJ_ASSIGN_OR_RETURN(guardrails.max_error_rate, OptionalNumber(json, "max_error_rate"));
  FALAJ_ASSIGN_OR_RETURN(guardrails.max_p99_latency_ms, OptionalNumber(json, "max_p99_latency_ms"));
  FALAJ_ASSIGN_OR_RETURN(auto min_requests, json::OptionalInt(json, "min_requests"));
  guardrails.min_requests = min_requests.value_or(guardrails.min_requests);
  if (auto monitored = json.find("monitored"); monitored != json.end()) {
    if (!monitored->is_array() || monitored->size() > kMaxMonitored) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "'monitored' must be a list of at most {} {{name, max}}", kMaxMonitored);
    }
    for (const auto& item : *monitored) {
      if (!item.is_object()) {
        return MakeError(ErrorCode::kInvalidArgument, "a monitored guardrail is {{name, max}}");
      }
      FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(item, {"name", "max"}));
      MonitoredGuardrail guardrail;
      FALAJ_ASSIGN_OR_RETURN(guardrail.name, json::RequiredString(item, "name"));
      FALAJ_ASSIGN_OR_RETURN(auto max, OptionalNumber(item, "max"));
      if (!max) {
        return MakeError(ErrorCode::kInvalidArgument, "monitored guardrail '{}' needs 'max'",
                         guardrail.name.substr(0, 80));
      }
      guardrail.max = *max;
      guardrails.monitored.push_back(std::move(guardrail));
    }
  }
  return guardrails;
}

Result<CanaryPolicy> CanaryFromJson(const nlohmann::json& json) {
  FALAJ_RETURN_IF_ERROR(
      json::RejectUnknownFields(json, {"arm", "baseline", "steps", "step_seconds", "guardrails"}));
  CanaryPolicy canary;
  FALAJ_ASSIGN_OR_RETURN(canary.arm, json::RequiredString(json, "arm"));
  FALAJ_ASSIGN_OR_RETURN(canary.baseline, json::RequiredString(json, "baseline"));
  auto steps = json.find("steps");
  if (steps == json.end() || !steps->is_array() || steps->empty() || steps->size() > kMaxSteps) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "canary 'steps' must be a list of 1 to {} percentages", kMaxSteps);
  }
  for (const auto& step : *steps) {
    if (!step.is_number() || !std::isfinite(step.get<double>())) {
      return MakeError(ErrorCode::kInvalidArgument, "canary 'steps' must be numbers");
    }
    canary.steps.push_back(step.get<double>());
  }
  FALAJ_ASSIGN_OR_RETURN(auto step_seconds, json::OptionalInt(json, "step_seconds"));
  canary.step_seconds = step_seconds.value_or(canary.step_seconds);
  FALAJ_ASSIGN_OR_RETURN(auto guardrails, OptionalObject(json, "guardrails"));
  if (guardrails) {
    FALAJ_ASSIGN_OR_RETURN(canary.guardrails, GuardrailsFromJson(*guardrails));
  }
  return canary;
}

nlohmann::json CanaryToJson(const CanaryPolicy& canary) {
  nlohmann::json guardrails = {{"min_requests", canary.guardrails.min_requests}};
  if (canary.guardrails.max_error_rate) {
    guardrails["max_error_rate"] = *canary.guardrails.max_error_rate;
  }
  if (canary.guardrails.max_p99_latency_ms) {
    guardrails["max_p99_latency_ms"] = *canary.guardrails.max_p99_latency_ms;
  }
  nlohmann::json monitored = nlohmann::json::array();
  for (const auto& item : canary.guardrails.monitored) {
    monitored.push_back({{"name", item.name}, {"max", item.max}});
  }
  guardrails["monitored"] = std::move(monitored);
  return {{"arm", canary.arm},
          {"baseline", canary.baseline},
          {"steps", canary.steps},
          {"step_seconds", canary.step_seconds},
          {"guardrails", std::move(guardrails)}};
}

CanaryState CanaryStateFromJson(const nlohmann::json& json) {
  CanaryState state;
  state.status = json.value("status", "ramping");
  state.step = json.value("step", size_t{0});
  state.step_started_ms = json.value("step_started_ms", int64_t{0});
  state.ended_at_ms = json.value("ended_at_ms", int64_t{0});
  state.reason = json.value("reason", "");
  return state;
}

bool HasArm(const std::vector<std::string>& arms, std::string_view arm) {
  return std::find(arms.begin(), arms.end(), arm) != arms.end();
}

Status CheckArm(const std::vector<std::string>& arms, std::string_view role, std::string_view arm) {
  if (HasArm(arms, arm)) return Ok();
  return MakeError(ErrorCode::kInvalidArgument, "{} '{}' is not an arm of the endpoint", role,
                   arm.substr(0, 80));
}

Status ValidateCanary(const CanaryPolicy& canary, const std::vector<std::string>& arms) {
  FALAJ_RETURN_IF_ERROR(CheckArm(arms, "canary arm", canary.arm));
  FALAJ_RETURN_IF_ERROR(CheckArm(arms, "canary baseline", canary.baseline));
  if (canary.arm == canary.baseline) {
    return MakeError(ErrorCode::kInvalidArgument, "the canary arm and its baseline must differ");
  }
  for (size_t i = 0; i < canary.steps.size(); ++i) {
    const double step = canary.steps[i];
    if (step <= 0 || step > 100) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "canary step {} must be a percentage in (0, 100], got {}", i + 1, step);
    }
    if (i > 0 && step <= canary.steps[i - 1]) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "canary steps must be strictly increasing; step {} ({}) is not above {}",
                       i + 1, step, canary.steps[i - 1]);
    }
  }
  if (canary.steps.back() != 100) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the last canary step must be 100 (the promotion), got {}",
                     canary.steps.back());
  }
  if (canary.step_seconds < 1 || canary.step_seconds > kMaxStepSeconds) {
    return MakeError(ErrorCode::kInvalidArgument, "'step_seconds' must be between 1 and {}, got {}",
                     kMaxStepSeconds, canary.step_seconds);
  }
  const Guardrails& guardrails = canary.guardrails;
  if (guardrails.max_error_rate &&
      (*guardrails.max_error_rate < 0 || *guardrails.max_error_rate > 1)) {
    return MakeError(ErrorCode::kInvalidArgument, "'max_error_rate' must be in [0, 1], got {}",
                     *guardrails.max_error_rate);
  }
  if (guardrails.max_p99_latency_ms && *guardrails.max_p99_latency_ms <= 0) {
    return MakeError(ErrorCode::kInvalidArgument, "'max_p99_latency_ms' must be positive, got {}",
                     *guardrails.max_p99_latency_ms);
  }
  if (guardrails.min_requests < 0 || guardrails.min_requests > 1'000'000'000) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'min_requests' must be between 0 and 1000000000, got {}",
                     guardrails.min_requests);
  }
  for (const auto& monitored : guardrails.monitored) {
    if (monitored.name.empty() || monitored.name.size() > kMaxNameLength) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "a monitored guardrail's name must be 1 to {} bytes", kMaxNameLength);
    }
  }
  return Ok();
}

}  // namespace

Status ValidateTrafficPolicy(const TrafficPolicy& policy, const std::vector<std::string>& arms) {
  const std::string& unit_key = policy.assignment.unit_key;
  if (!policy.assignment.unit_key.empty() || policy.assignment.required) {
    const bool plain = std::all_of(unit_key.begin(), unit_key.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '_' || c == '-' || c == '.';
    });
    if (unit_key.empty() || unit_key.size() > 64 || !plain) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "'unit_key' must be 1 to 64 letters, digits, '_', '-' or '.'");
    }
  }
  for (size_t i = 0; i < policy.shadows.size(); ++i) {
    const ShadowPolicy& shadow = policy.shadows[i];
    FALAJ_RETURN_IF_ERROR(CheckArm(arms, "shadow arm", shadow.arm));
    if (!(shadow.percent >= 0 && shadow.percent <= 100)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "shadow '{}' percent must be between 0 and 100, got {}", shadow.arm,
                       shadow.percent);
    }
    for (size_t j = 0; j < i; ++j) {
      if (policy.shadows[j].arm == shadow.arm) {
        return MakeError(ErrorCode::kInvalidArgument, "arm '{}' is a shadow twice", shadow.arm);
      }
    }
  }
  if (policy.canary) FALAJ_RETURN_IF_ERROR(ValidateCanary(*policy.canary, arms));
  return Ok();
}

nlohmann::json TrafficPolicyToJson(const TrafficPolicy& policy) {
  nlohmann::json json = nlohmann::json::object();
  if (!policy.assignment.unit_key.empty()) {
    json["assignment"] = {{"unit_key", policy.assignment.unit_key},
                          {"required", policy.assignment.required}};
  }
  nlohmann::json shadows = nlohmann::json::array();
  for (const auto& shadow : policy.shadows) {
    shadows.push_back({{"arm", shadow.arm}, {"percent", shadow.percent}});
  }
  json["shadow"] = std::move(shadows);
  if (policy.canary) json["canary"] = CanaryToJson(*policy.canary);
  json["salt"] = policy.salt;
  if (policy.canary_state) {
    const CanaryState& state = *policy.canary_state;
    json["canary_state"] = {{"status", state.status},
                            {"step", state.step},
                            {"step_started_ms", state.step_started_ms},
                            {"ended_at_ms", state.ended_at_ms},
                            {"reason", state.reason}};
  }
  return json;
}

Result<TrafficPolicy> TrafficPolicyFromJson(const nlohmann::json& json, PolicySource source) {
  if (!json.is_object())
    return MakeError(ErrorCode::kInvalidArgument, "'traffic' must be an object");
  if (source == PolicySource::kBody) {
    // The salt and the canary's progress belong to the server: a client setting them could
    // reshuffle every unit or skip the ramp.
    FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(json, {"assignment", "shadow", "canary"}));
  }
  TrafficPolicy policy;
  FALAJ_ASSIGN_OR_RETURN(auto assignment, OptionalObject(json, "assignment"));
  if (assignment) {
    FALAJ_ASSIGN_OR_RETURN(policy.assignment, AssignmentFromJson(*assignment));
  }
  if (auto shadows = json.find("shadow"); shadows != json.end() && !shadows->is_null()) {
    FALAJ_ASSIGN_OR_RETURN(policy.shadows, ShadowsFromJson(*shadows));
  }
  FALAJ_ASSIGN_OR_RETURN(auto canary, OptionalObject(json, "canary"));
  if (canary) {
    FALAJ_ASSIGN_OR_RETURN(policy.canary, CanaryFromJson(*canary));
  }
  if (source == PolicySource::kStored) {
    policy.salt = json.value("salt", "");
    if (auto state = json.find("canary_state"); state != json.end() && state->is_object()) {
      policy.canary_state = CanaryStateFromJson(*state);
    }
  }
  return policy;
}

bool SameCanary(const CanaryPolicy& a, const CanaryPolicy& b) {
  return CanaryToJson(a) == CanaryToJson(b);
}

}  // namespace falaj::serving
