#include "monitoring/alert_state.h"

namespace falaj::monitoring {

std::string_view AlertStateName(AlertState state) {
  switch (state) {
    case AlertState::kInactive:
      return "inactive";
    case AlertState::kPending:
      return "pending";
    case AlertState::kFiring:
      return "firing";
    case AlertState::kResolved:
      return "resolved";
  }
  return "inactive";
}

AlertState ParseAlertState(std::string_view text) {
  if (text == "pending") return AlertState::kPending;
  if (text == "firing") return AlertState::kFiring;
  if (text == "resolved") return AlertState::kResolved;
  return AlertState::kInactive;
}

std::string_view TriggerStateName(TriggerState state) {
  switch (state) {
    case TriggerState::kNone:
      return "none";
    case TriggerState::kPending:
      return "pending";
    case TriggerState::kSubmitted:
      return "submitted";
    case TriggerState::kFailed:
      return "failed";
  }
  return "none";
}

TriggerState ParseTriggerState(std::string_view text) {
  if (text == "pending") return TriggerState::kPending;
  if (text == "submitted") return TriggerState::kSubmitted;
  if (text == "failed") return TriggerState::kFailed;
  return TriggerState::kNone;
}

Transition Step(Alert& alert, bool holds, double value, int64_t now_ms, int64_t for_ms) {
  alert.value = value;
  if (holds) {
    if (alert.state == AlertState::kInactive || alert.state == AlertState::kResolved) {
      alert.state = AlertState::kPending;
      alert.active_since_ms = now_ms;
      alert.fired_at_ms = 0;
      alert.resolved_at_ms = 0;
      alert.trigger = TriggerState::kNone;
      alert.trigger_job.clear();
      alert.trigger_error.clear();
      if (for_ms > 0) return Transition::kPending;
    }
    if (alert.state == AlertState::kPending && now_ms - alert.active_since_ms >= for_ms) {
      alert.state = AlertState::kFiring;
      alert.fired_at_ms = now_ms;
      return Transition::kFired;
    }
    return Transition::kNone;
  }
  if (alert.state == AlertState::kPending) {
    alert.state = AlertState::kInactive;
    return Transition::kDropped;
  }
  if (alert.state == AlertState::kFiring) {
    alert.state = AlertState::kResolved;
    alert.resolved_at_ms = now_ms;
    return Transition::kResolved;
  }
  return Transition::kNone;
}

}  // namespace falaj::monitoring
