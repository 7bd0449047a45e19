// TrafficControl over the EndpointStore: who serves an endpoint, and sending all of its traffic to
// one arm (promotion or rollback), which ends a canary ramp (recording why) and any shadowing.
// Changes are compare-and-set (EndpointStore::Mutate), so they never undo a concurrent update,
// and take effect for this server's next request (the predictor forgets its routing).
//
// Thread-safe: every method may be called concurrently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "serving/endpoint_store.h"
#include "serving/predictor.h"
#include "serving/traffic_control.h"

namespace falaj::serving {

class EndpointTraffic final : public TrafficControl {
 public:
  // Nothing is owned; everything must outlive this.
  EndpointTraffic(EndpointStore& endpoints, Predictor& predictor)
      : endpoints_(endpoints), predictor_(predictor) {}

  Result<std::vector<ArmWeight>> Arms(std::string_view project, std::string_view endpoint) override;
  Status RouteAllTo(std::string_view project, std::string_view endpoint, std::string_view arm,
                    std::string_view principal) override;
  // RouteAllTo with the reason recorded in the canary's state (when one was ramping).
  Result<Endpoint> RouteAllTo(std::string_view project, std::string_view endpoint,
                              std::string_view arm, std::string_view principal,
                              std::string_view reason);

 private:
  EndpointStore& endpoints_;
  Predictor& predictor_;
};

}  // namespace falaj::serving
