// The lifecycle of one alert (a rule applied to one monitored value), with Prometheus's
// semantics: when the condition first holds the alert is pending; once it has held for the
// rule's `for` duration it fires (at once when `for` is 0); when the condition stops holding a
// pending alert is dropped and a firing one resolves. A resolved alert whose condition holds
// again starts a new pending period (and may fire, and trigger, again).
// Pure; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace falaj::monitoring {

enum class AlertState { kInactive, kPending, kFiring, kResolved };

std::string_view AlertStateName(AlertState state);

enum class TriggerState { kNone, kPending, kSubmitted, kFailed };
std::string_view TriggerStateName(TriggerState state);
TriggerState ParseTriggerState(std::string_view text);
AlertState ParseAlertState(std::string_view text);

struct Alert {
  std::string project{};
  std::string rule{};
  std::string series{};  // the monitored value's name
  AlertState state = AlertState::kInactive;
  double value = 0;
  int64_t active_since_ms = 0;
  int64_t fired_at_ms = 0;
  int64_t resolved_at_ms = 0;
  // The retraining trigger of the current firing: pending until its job is submitted.
  TriggerState trigger = TriggerState::kNone;
  std::string trigger_job{};
  std::string trigger_error{};
};

enum class Transition { kNone, kPending, kFired, kResolved, kDropped };

// Advances `alert` for one evaluation at `now_ms` where the condition does or does not hold
// (`value` is recorded either way when present).
Transition Step(Alert& alert, bool holds, double value, int64_t now_ms, int64_t for_ms);

}  // namespace falaj::monitoring
