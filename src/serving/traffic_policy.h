// An endpoint's traffic policy: how requests pick an arm (sticky assignment by a unit key read
// from the request's parameters, else random by weight), which arms receive a mirrored share of
// traffic (shadow), and a canary ramp with guardrails. The canary's progress (step, status, why
// it ended) is server-managed state stored with the policy, so a restart or another replica
// resumes the ramp where it was. Plain values and pure functions; no thread-safety concerns.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace falaj::serving {

struct AssignmentPolicy {
  // The request parameter naming the unit (e.g. "user_id"); "" = every request picks at random.
  std::string unit_key;
  // Refuse requests without the unit key instead of picking at random.
  bool required = false;
};

struct ShadowPolicy {
  std::string arm;
  double percent = 100;  // share of the endpoint's requests mirrored to the arm, 0–100
};

struct MonitoredGuardrail {
  std::string name;  // a MonitoredValues name of the endpoint's project
  double max = 0;    // breached when the value is above this
};

struct Guardrails {
  std::optional<double> max_error_rate;      // errors / requests of the canary arm, in [0, 1]
  std::optional<double> max_p99_latency_ms;  // p99 of the canary arm over the current step
  // Requests the canary arm must have answered in a step before its rates judge it, and before
  // the step may end.
  int64_t min_requests = 100;
  std::vector<MonitoredGuardrail> monitored;
};

struct CanaryPolicy {
  std::string arm;            // the challenger being ramped up
  std::string baseline;       // where all traffic returns on a breach
  std::vector<double> steps;  // percent of traffic on `arm`, strictly increasing, ending at 100
  int64_t step_seconds = 600;
  Guardrails guardrails;
};

// Server-managed: where the ramp is.
struct CanaryState {
  std::string status = "ramping";  // ramping, promoted or rolled_back
  size_t step = 0;                 // index into CanaryPolicy::steps
  int64_t step_started_ms = 0;
  int64_t ended_at_ms = 0;
  std::string reason;  // why it was promoted or rolled back
  bool ramping() const { return status == "ramping"; }
};

struct TrafficPolicy {
  AssignmentPolicy assignment;
  std::vector<ShadowPolicy> shadows;
  std::optional<CanaryPolicy> canary;
  // Server-managed. The per-endpoint hash salt, generated when the endpoint is created and
  // never changed, so units keep their arm across restarts, replicas and policy edits.
  std::string salt;
  std::optional<CanaryState> canary_state;
};

// Refuses anything that would route badly, naming it: unknown arms, duplicate shadows, shares
// outside 0–100, canary steps not strictly increasing to 100, guardrails out of range.
// `arms` are the endpoint's target names.
Status ValidateTrafficPolicy(const TrafficPolicy& policy, const std::vector<std::string>& arms);

// The policy as the "traffic" member of an endpoint (with its server-managed state), and back.
// `body` parsing (ForBody) refuses unknown fields and the server-managed ones.
nlohmann::json TrafficPolicyToJson(const TrafficPolicy& policy);
enum class PolicySource { kBody, kStored };
Result<TrafficPolicy> TrafficPolicyFromJson(const nlohmann::json& json, PolicySource source);

// Whether two canary policies describe the same ramp (an update that keeps it keeps its state).
bool SameCanary(const CanaryPolicy& a, const CanaryPolicy& b);

}  // namespace falaj::serving
