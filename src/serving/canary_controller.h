// Drives canary ramps: on every tick it looks at each endpoint whose canary is ramping (in the
// MetadataStore, so a restarted server or another replica carries on where the ramp was),
// judges the canary arm by its guardrails — error rate and p99 latency over the current step,
// measured in this process (arm_stats.h), once the step has min_requests; and any MonitoredValue
// named by the policy — and then rolls back to the baseline at once on a breach, advances to the
// next step when the step has lasted step_seconds with enough requests, or promotes after the
// last step. Every rollback and promotion is reported to the audit callback. Steps advance by
// compare-and-set, so replicas ticking together advance a ramp once.
//
// Thread-safety: Start and Stop are called once each, from one thread; Tick may run concurrently
// with request handling.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "common/clock.h"
#include "serving/endpoint_store.h"
#include "serving/endpoint_traffic.h"
#include "serving/predictor.h"

namespace falaj::serving {

class CanaryController {
 public:
  // The latest value of a monitored quantity of a project (monitoring's MonitoredValues).
  using MonitoredLookup =
      std::function<std::optional<double>(std::string_view project, std::string_view name)>;
  // Records a decision the controller took: action ("rollback" or "promote"), the endpoint's
  // project and name, the arm now serving everything, and why.
  struct Decision {
    std::string action;
    std::string project;
    std::string endpoint;
    std::string arm;
    std::string reason;
  };
  using Audit = std::function<void(const Decision&)>;

  static constexpr std::string_view kPrincipal = "system:canary-controller";

  // Nothing is owned; everything must outlive the controller.
  CanaryController(EndpointStore& endpoints, EndpointTraffic& traffic, Predictor& predictor,
                   Audit audit, MonitoredLookup monitored = {},
                   const Clock& clock = SystemClock::Instance());
  ~CanaryController();

  // Ticks every `interval` on a thread of its own until Stop (or destruction).
  void Start(std::chrono::milliseconds interval);
  void Stop();
  // One pass over the ramping endpoints (the thread's body; tests call it directly).
  void Tick();

 private:
  // The breach, if any, of the canary's guardrails: a sentence saying which and by how much.
  std::optional<std::string> Breach(const Endpoint& endpoint, const ArmSnapshot& canary) const;
  void Judge(const Endpoint& endpoint);
  void Advance(const Endpoint& endpoint, size_t step);
  void End(const Endpoint& endpoint, std::string_view action, const std::string& arm,
           const std::string& reason);

  EndpointStore& endpoints_;
  EndpointTraffic& traffic_;
  Predictor& predictor_;
  Audit audit_;
  MonitoredLookup monitored_;
  const Clock& clock_;
  // "<project>\x1f<endpoint>" → the (step, start) whose counters this process is measuring;
  // touched only by the ticking thread.
  std::map<std::string, std::pair<size_t, int64_t>> measuring_;
  std::jthread thread_;
};

}  // namespace falaj::serving
