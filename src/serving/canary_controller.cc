#include "serving/canary_controller.h"

#include <fmt/format.h>

#include "common/logging.h"

namespace falaj::serving {
namespace {

std::string MeasuringKey(const Endpoint& endpoint) {
  return fmt::format("{}\x1f{}", endpoint.project, endpoint.name);
}

}  // namespace

CanaryController::CanaryController(EndpointStore& endpoints, EndpointTraffic& traffic,
                                   Predictor& predictor, Audit audit, MonitoredLookup monitored,
                                   const Clock& clock)
    : endpoints_(endpoints),
      traffic_(traffic),
      predictor_(predictor),
      audit_(std::move(audit)),
      monitored_(std::move(monitored)),
      clock_(clock) {}

CanaryController::~CanaryController() { Stop(); }

void CanaryController::Start(std::chrono::milliseconds interval) {
  thread_ = std::jthread([this, interval](std::stop_token stop) {
    std::mutex mutex;
    std::condition_variable_any wake;
    while (!stop.stop_requested()) {
      Tick();
      std::unique_lock lock(mutex);
      wake.wait_for(lock, stop, interval, [] { return false; });
    }
  });
}

void CanaryController::Stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  thread_.join();
}

void CanaryController::Tick() {
  auto ramping = endpoints_.ListRamping();
  if (!ramping) {
    log::Warn("canary controller cannot list endpoints", {{"error", ramping.error().message}});
    return;
  }
  for (const auto& endpoint : *ramping) Judge(endpoint);
}

std::optional<std::string> CanaryController::Breach(const Endpoint& endpoint,
                                                    const ArmSnapshot& canary) const {
  const CanaryPolicy& policy = *endpoint.traffic.canary;
  const Guardrails& guardrails = policy.guardrails;
  const size_t step = endpoint.traffic.canary_state->step;
  if (canary.step_requests > 0 && canary.step_requests >= guardrails.min_requests) {
    const double error_rate =
        static_cast<double>(canary.step_errors) / static_cast<double>(canary.step_requests);
    if (guardrails.max_error_rate && error_rate > *guardrails.max_error_rate) {
      return fmt::format(
          "error rate {:.4f} of arm '{}' at step {} ({} of {} requests) is above "
          "max_error_rate {}",
          error_rate, policy.arm, step + 1, canary.step_errors, canary.step_requests,
          *guardrails.max_error_rate);
    }
    if (guardrails.max_p99_latency_ms && canary.step_p99_ms > *guardrails.max_p99_latency_ms) {
      return fmt::format(
          "p99 latency {:.3f} ms of arm '{}' at step {} is above "
          "max_p99_latency_ms {}",
          canary.step_p99_ms, policy.arm, step + 1, *guardrails.max_p99_latency_ms);
    }
  }
  if (monitored_) {
    for (const auto& monitored : guardrails.monitored) {
      auto value = monitored_(endpoint.project, monitored.name);
      if (value && *value > monitored.max) {
        return fmt::format("monitored value '{}' is {} (above its max {})", monitored.name, *value,
                           monitored.max);
      }
    }
  }
  return std::nullopt;
}

void CanaryController::Judge(const Endpoint& endpoint) {
  const CanaryPolicy& policy = *endpoint.traffic.canary;
  const CanaryState& state = *endpoint.traffic.canary_state;
  ArmStatsRegistry& stats = predictor_.arm_stats();
  // A step this process has not measured yet (new, advanced elsewhere, or after a restart)
  // starts its counters from zero.
  const std::string key = MeasuringKey(endpoint);
  const std::pair<size_t, int64_t> step{state.step, state.step_started_ms};
  if (auto& measuring = measuring_[key]; measuring != step) {
    measuring = step;
    stats.ResetStep(endpoint.project, endpoint.name);
  }
  const ArmSnapshot canary =
      stats.For(endpoint.project, endpoint.name, policy.arm)->Snapshot(policy.arm);
  if (auto breach = Breach(endpoint, canary)) {
    End(endpoint, "rollback", policy.baseline, "guardrail breached: " + *breach);
    return;
  }
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  const bool lasted = now_ms - state.step_started_ms >= policy.step_seconds * 1000;
  if (!lasted || canary.step_requests < policy.guardrails.min_requests) return;
  if (state.step + 1 >= policy.steps.size()) {
    End(endpoint, "promote", policy.arm,
        fmt::format("promoted after {} steps with guardrails holding", policy.steps.size()));
    return;
  }
  Advance(endpoint, state.step);
}

void CanaryController::Advance(const Endpoint& endpoint, size_t step) {
  const int64_t now_ms = ToUnixMillis(clock_.Now());
  auto advanced =
      endpoints_.Mutate(endpoint.project, endpoint.name, [&](Endpoint& found) -> Status {
        auto& state = found.traffic.canary_state;
        if (!found.traffic.canary || !state || !state->ramping() || state->step != step) {
          // Another replica advanced it, or a person ended the ramp: nothing to do.
          return MakeError(ErrorCode::kFailedPrecondition, "the ramp moved on");
        }
        state->step = step + 1;
        state->step_started_ms = now_ms;
        return Ok();
      });
  if (advanced) {
    // The new step is measured from now here; other replicas start when they first see it.
    measuring_[MeasuringKey(endpoint)] = {step + 1, now_ms};
    predictor_.arm_stats().ResetStep(endpoint.project, endpoint.name);
    predictor_.arm_stats().Publish(*advanced);
    predictor_.Forget(endpoint.project);
    log::Info("canary advanced", {{"project", endpoint.project},
                                  {"endpoint", endpoint.name},
                                  {"step", static_cast<int64_t>(step + 2)}});
  }
}

void CanaryController::End(const Endpoint& endpoint, std::string_view action,
                           const std::string& arm, const std::string& reason) {
  auto ended = traffic_.RouteAllTo(endpoint.project, endpoint.name, arm, kPrincipal, reason);
  if (!ended) {
    log::Error("canary decision failed", {{"project", endpoint.project},
                                          {"endpoint", endpoint.name},
                                          {"action", std::string(action)},
                                          {"error", ended.error().message}});
    return;
  }
  log::Info("canary ended", {{"project", endpoint.project},
                             {"endpoint", endpoint.name},
                             {"action", std::string(action)},
                             {"reason", reason}});
  if (audit_) audit_({std::string(action), endpoint.project, endpoint.name, arm, reason});
}

}  // namespace falaj::serving
