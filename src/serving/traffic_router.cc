#include "serving/traffic_router.h"

#include <algorithm>
#include <random>

namespace falaj::serving {
namespace {

std::minstd_rand& Engine() {
  thread_local std::minstd_rand engine{std::random_device{}()};
  return engine;
}

}  // namespace

size_t PickWeighted(const std::vector<int64_t>& weights) {
  int64_t total = 0;
  for (int64_t weight : weights) total += weight;
  int64_t ticket = std::uniform_int_distribution<int64_t>(0, total - 1)(Engine());
  for (size_t i = 0; i < weights.size(); ++i) {
    if (ticket < weights[i]) return i;
    ticket -= weights[i];
  }
  return weights.size() - 1;
}

Result<TrafficRouter> TrafficRouter::Create(const Endpoint& endpoint) {
  TrafficRouter router;
  const TrafficPolicy& policy = endpoint.traffic;
  const std::vector<int64_t> weights = EffectiveWeights(endpoint);
  const std::vector<std::string> arms = ArmNames(endpoint);
  for (const auto& shadow : policy.shadows) {
    auto found = std::find(arms.begin(), arms.end(), shadow.arm);
    if (found != arms.end() && shadow.percent > 0) {
      router.shadows_.push_back({static_cast<size_t>(found - arms.begin()), shadow.percent});
    }
  }
  if (policy.assignment.unit_key.empty()) return router;
  router.unit_key_ = policy.assignment.unit_key;
  router.required_ = policy.assignment.required;
  // A ramping canary's arm owns the start of [0, 1): growing its share then only ever moves
  // units onto it, never between the other arms.
  std::vector<size_t> order;
  const auto& canary = policy.canary;
  const bool ramping = canary && policy.canary_state && policy.canary_state->ramping();
  for (size_t i = 0; i < endpoint.targets.size(); ++i) {
    if (weights[i] <= 0) continue;
    if (ramping && endpoint.targets[i].name == canary->arm) {
      order.insert(order.begin(), i);
    } else {
      order.push_back(i);
    }
  }
  abtest::AssignmentConfig config;
  config.salt = policy.salt;
  for (size_t index : order) config.weights.push_back(static_cast<double>(weights[index]));
  FALAJ_ASSIGN_OR_RETURN(auto assignment, abtest::Assignment::Create(std::move(config)));
  router.assignment_ = std::move(assignment);
  router.assigned_arms_ = std::move(order);
  return router;
}

Result<TrafficRouter::Pick> TrafficRouter::Choose(const InferRequest& request,
                                                  const std::vector<int64_t>& weights) const {
  Pick pick;
  if (assignment_) {
    for (const auto& [name, value] : request.parameters) {
      if (name == unit_key_) {
        pick.unit = value;
        break;
      }
    }
    if (pick.unit.size() > kMaxUnitLength) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "parameter '{}' is {} bytes; a unit key is at most {}", unit_key_,
                       pick.unit.size(), kMaxUnitLength);
    }
    if (auto arm = assignment_->ArmFor(pick.unit)) {
      pick.arm = assigned_arms_[*arm];
      return pick;
    }
    if (required_) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "this endpoint assigns arms by unit: send a non-empty '{}' in the "
                       "request's parameters",
                       unit_key_);
    }
  }
  pick.arm = PickWeighted(weights);
  return pick;
}

void TrafficRouter::Mirrors(size_t primary, std::vector<size_t>& out) const {
  out.clear();
  for (const auto& shadow : shadows_) {
    if (shadow.arm == primary) continue;
    if (shadow.percent >= 100 ||
        std::uniform_real_distribution<double>(0, 100)(Engine()) < shadow.percent) {
      out.push_back(shadow.arm);
    }
  }
}

}  // namespace falaj::serving
