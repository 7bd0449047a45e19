// How other modules (A/B test decisions, canary rollbacks) change who serves an endpoint without
// knowing how endpoints are stored: the arms are the endpoint's targets, by name.
//
// Thread-safety: implementations must be safe to call concurrently.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace falaj::serving {

struct ArmWeight {
  std::string arm;
  int64_t weight = 0;
};

class TrafficControl {
 public:
  virtual ~TrafficControl() = default;
  // The endpoint's arms and their current weights. NOT_FOUND for an unknown endpoint.
  virtual Result<std::vector<ArmWeight>> Arms(std::string_view project,
                                              std::string_view endpoint) = 0;
  // Sends all of the endpoint's traffic to one arm (promotion or rollback), ending any canary
  // ramp or shadow on it. NOT_FOUND for an unknown endpoint or arm. The caller audits.
  virtual Status RouteAllTo(std::string_view project, std::string_view endpoint,
                            std::string_view arm, std::string_view principal) = 0;
};

}  // namespace falaj::serving
