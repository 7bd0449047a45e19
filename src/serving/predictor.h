// The predictor: the InferenceService the KServe v2 transports call. It routes a served name
// to a model version (endpoint_store.h: an endpoint's targets by weight; else the model's
// "champion" alias or latest servable version), asks the model manager for that version, checks
// the inputs against the model, and runs the prediction.
//
// Resolutions (endpoint definitions, aliases, default versions) are remembered for
// kResolutionTtl so the hot path reads no storage; Forget() drops them at once after a change
// made through this server. Hot swap: when a resolution moves to a version that is not loaded
// yet while the previous one is serving, the new one loads in the background and the previous
// one keeps answering until the new one is ready — no request waits or fails for the swap.
//
// An endpoint with a feature service remembers the service resolved with its route (until the
// feature definitions change); its requests carry entity keys, and the model's rows are built
// from the online store's features (feature_provider.h).
//
// Traffic policies (traffic_router.h): a request picks its arm by its unit's sticky assignment or
// by weight; every answer names its arm; each arm's requests, errors and latency are counted
// (arm_stats.h, also as Prometheus metrics on the model manager's registry), failures included;
// a share of requests is mirrored to shadow arms on a small bounded pool (shadow_pool.h) whose
// answers only reach the prediction sink.
//
// Thread-safety: every method may be called concurrently, except SetFeatureProvider and
// SetDeploymentGuard and SetPredictionSink, which are called once before any other.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "serving/arm_stats.h"
#include "serving/endpoint_store.h"
#include "serving/feature_provider.h"
#include "serving/inference_service.h"
#include "serving/model_manager.h"
#include "serving/prediction_record.h"
#include "serving/shadow_pool.h"
#include "serving/traffic_router.h"

namespace falaj::serving {

class Predictor final : public InferenceService {
 public:
  static constexpr std::chrono::milliseconds kResolutionTtl{1000};
  static constexpr int kShadowWorkers = 2;
  static constexpr size_t kShadowCapacity = 64;

  // Nothing is owned; everything must outlive the predictor.
  Predictor(EndpointStore& endpoints, registry::ModelRegistry& registry, ModelManager& models);

  // Where endpoints' feature services are resolved; without one, an endpoint naming a feature
  // service answers UNAVAILABLE. Not owned; must outlive the predictor's use.
  void SetFeatureProvider(FeatureProvider* provider) { features_ = provider; }
  // Asked whether this node may serve a project's models each time a route is looked up from
  // storage (at most once per kResolutionTtl per served name): an error refuses the request
  // with it. Data residency uses it: a node outside the project's region needs a transfer policy.
  using DeploymentGuard = std::function<Status(std::string_view project)>;
  void SetDeploymentGuard(DeploymentGuard guard) { guard_ = std::move(guard); }
  // Where sampled predictions are recorded for monitoring and A/B tests; none records nothing.
  // Not owned; must outlive the predictor's use.
  void SetPredictionSink(PredictionSink* sink) { sink_ = sink; }

  Result<InferResponse> Infer(InferRequest& request) override;
  std::optional<Result<InferResponse>> TryInferWithoutBlocking(InferRequest& request) override;
  Result<ModelMetadata> Metadata(std::string_view project, std::string_view name,
                                 std::optional<int64_t> version) override;
  Status Ready(std::string_view project, std::string_view name,
               std::optional<int64_t> version) override;

  // Forgets every remembered resolution in `project` (after an endpoint, alias or version
  // changes).
  void Forget(std::string_view project);

  // The load specs an endpoint's targets resolve to now (for its status in the API).
  Result<std::vector<LoadSpec>> TargetSpecs(std::string_view project, std::string_view endpoint);

  // The per-arm counters of this process (for the traffic API and the canary controller).
  ArmStatsRegistry& arm_stats() { return arm_stats_; }

 private:
  // How a served name routes, remembered for kResolutionTtl: an endpoint's targets with their
  // resolved versions (load keys computed once), or a model's default version.
  struct RouteTarget {
    LoadSpec spec;
    std::string key;  // spec.Key()
    int64_t weight = 1;
    // Identifies the target across version moves, for hot swap; empty for a pinned version.
    std::string target_key;
    std::string arm;                     // the endpoint's arm name; "" for a model
    std::shared_ptr<ArmCounters> stats;  // null for a model
  };
  struct Route {
    bool endpoint = false;
    std::string endpoint_name;
    std::vector<RouteTarget> targets;
    std::vector<int64_t> weights;  // the targets' current shares
    TrafficRouter router;
    int64_t request_timeout_ms = 0;
    // The endpoint's feature service, resolved; null when requests carry the model's rows.
    std::string feature_service;
    std::shared_ptr<const ResolvedFeatureService> features;
    std::chrono::steady_clock::time_point at;
  };
  // The target a request goes to: one of a remembered route's (no copies on the hot path), or a
  // pinned version of a model.
  struct Resolution {
    std::shared_ptr<const Route> route;
    size_t index = 0;
    std::optional<RouteTarget> pinned;
    int64_t request_timeout_ms = 0;
    std::string_view unit;  // the sticky-assignment unit, into the request's parameters
    const RouteTarget& target() const { return pinned ? *pinned : route->targets[index]; }
  };
  enum class Mode { kMayBlock, kNeverBlock };

  static Resolution Pinned(LoadSpec spec);
  // nullopt (only in kNeverBlock mode) when answering would need storage or a load. `request`
  // (null for metadata and readiness) carries the unit of sticky assignment.
  std::optional<Result<Resolution>> Resolve(std::string_view project, std::string_view name,
                                            std::optional<int64_t> version, Mode mode,
                                            const InferRequest* request = nullptr);
  std::optional<Result<std::shared_ptr<ServedModel>>> Acquire(const Resolution& resolution,
                                                              Mode mode);
  std::optional<Result<InferResponse>> Run(InferRequest& request, Mode mode);
  // Runs the request on the resolved target; `shadow` marks a mirrored call in its record.
  std::optional<Result<InferResponse>> RunOn(InferRequest& request, const Resolution& resolution,
                                             Mode mode, bool shadow);
  // Hands a failed routed prediction to the sink when it samples it.
  void RecordFailure(const InferRequest& request, const Resolution& resolution, const Error& error,
                     int64_t latency_us, bool shadow);
  // Runs copies of the request on the shadow arms, off the caller's path (dropped and counted
  // when the pool is full).
  void Mirror(InferRequest&& request, const Resolution& resolution,
              const std::vector<size_t>& arms);
  // The endpoint's feature service for its route (UNAVAILABLE with the reason when it no longer
  // resolves).
  Status ResolveFeatures(std::string_view project, const Endpoint& endpoint, Route& route);

  // The remembered route, or null when absent or stale. Guarded by mutex_.
  std::shared_ptr<const Route> RememberedRoute(const std::string& key);
  // Reads the route from storage and remembers it (errors are not remembered).
  Result<std::shared_ptr<const Route>> LookUpRoute(std::string_view project, std::string_view name);
  Result<int64_t> LookUpVersion(std::string_view project, std::string_view model,
                                std::string_view alias);

  EndpointStore& endpoints_;
  registry::ModelRegistry& registry_;
  ModelManager& models_;
  FeatureProvider* features_ = nullptr;
  DeploymentGuard guard_;
  PredictionSink* sink_ = nullptr;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Route>, std::less<>> routes_;
  // target_key → the spec (and its key) that last served it, for hot swaps.
  std::map<std::string, std::pair<LoadSpec, std::string>, std::less<>> serving_;
  ArmStatsRegistry arm_stats_;
  // Last: its workers finish their shadow calls before the rest of the predictor goes.
  ShadowPool shadows_{kShadowWorkers, kShadowCapacity};
};

}  // namespace falaj::serving
