#include "serving/endpoint_traffic.h"

#include <fmt/format.h>

#include <algorithm>

#include "common/clock.h"

namespace falaj::serving {

Result<std::vector<ArmWeight>> EndpointTraffic::Arms(std::string_view project,
                                                     std::string_view endpoint) {
  FALAJ_ASSIGN_OR_RETURN(Endpoint found, endpoints_.Get(project, endpoint));
  const std::vector<int64_t> weights = EffectiveWeights(found);
  std::vector<ArmWeight> arms;
  for (size_t i = 0; i < found.targets.size(); ++i) {
    arms.push_back({found.targets[i].name, weights[i]});
  }
  return arms;
}

Status EndpointTraffic::RouteAllTo(std::string_view project, std::string_view endpoint,
                                   std::string_view arm, std::string_view principal) {
  FALAJ_RETURN_IF_ERROR(RouteAllTo(project, endpoint, arm, principal, ""));
  return Ok();
}

Result<Endpoint> EndpointTraffic::RouteAllTo(std::string_view project, std::string_view endpoint,
                                             std::string_view arm, std::string_view principal,
                                             std::string_view reason) {
  auto changed = endpoints_.Mutate(project, endpoint, [&](Endpoint& found) -> Status {
    auto target = std::find_if(found.targets.begin(), found.targets.end(),
                               [&](const EndpointTarget& t) { return t.name == arm; });
    if (target == found.targets.end()) {
      return MakeError(ErrorCode::kNotFound, "endpoint '{}' has no arm '{}'",
                       endpoint.substr(0, 80), arm.substr(0, 80));
    }
    for (auto& each : found.targets) each.weight = each.name == arm ? 1 : 0;
    TrafficPolicy& traffic = found.traffic;
    traffic.shadows.clear();
    if (traffic.canary && traffic.canary_state && traffic.canary_state->ramping()) {
      CanaryState& state = *traffic.canary_state;
      state.status = arm == traffic.canary->arm ? "promoted" : "rolled_back";
      state.ended_at_ms = ToUnixMillis(SystemClock::Instance().Now());
      state.reason = reason.empty()
                         ? fmt::format("all traffic routed to '{}' by {}", arm, principal)
                         : std::string(reason);
    }
    return Ok();
  });
  if (changed) {
    predictor_.arm_stats().Publish(*changed);
    predictor_.Forget(project);
  }
  return changed;
}

}  // namespace falaj::serving
