// How one endpoint's requests pick their arm: by the sticky assignment of the request's unit
// (abtest/assignment.h, GrowthBook hash v2 with the endpoint's salt) when the policy names a unit
// key and the request carries it, else at random by the arms' current weights; and which shadow
// arms a request is mirrored to. Built once per remembered route, from the endpoint as stored.
//
// Thread-safety: immutable after Create; Pick and Mirrors may be called concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "abtest/assignment.h"
#include "common/result.h"
#include "serving/endpoint_store.h"
#include "serving/inference.h"

namespace falaj::serving {

// Longest unit key value accepted; longer ones are refused rather than hashed, so a hostile
// client cannot make every request hash kilobytes.
inline constexpr size_t kMaxUnitLength = 256;

class TrafficRouter {
 public:
  // An endpoint that routes to one arm by weight (used for models addressed directly).
  TrafficRouter() = default;
  static Result<TrafficRouter> Create(const Endpoint& endpoint);

  struct Pick {
    size_t arm = 0;         // index into the endpoint's targets
    std::string_view unit;  // the unit's value (into the request's parameters); "" when none
  };
  // The arm for a request. INVALID_ARGUMENT when the unit key is required and missing, or too
  // long.
  Result<Pick> Choose(const InferRequest& request, const std::vector<int64_t>& weights) const;

  // The arms (target indexes) this request is to be mirrored to, besides `primary`; decided at
  // random by each shadow's share. Writes into `out` (cleared first) to avoid an allocation per
  // request when there are no shadows.
  void Mirrors(size_t primary, std::vector<size_t>& out) const;
  bool has_shadows() const { return !shadows_.empty(); }

 private:
  struct Shadow {
    size_t arm;
    double percent;
  };
  std::string unit_key_;
  bool required_ = false;
  std::optional<abtest::Assignment> assignment_;
  std::vector<size_t> assigned_arms_;  // assignment arm index → target index
  std::vector<Shadow> shadows_;
};

// Picks an index at random with probability proportional to its weight (the total must be > 0).
size_t PickWeighted(const std::vector<int64_t>& weights);

}  // namespace falaj::serving
