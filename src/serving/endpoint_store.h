// Endpoints: a named, per-project serving entry point that routes each request to one of its
// targets (a model version by number or by alias) by traffic weight, and carries the serving
// settings of what it serves (runtime, dynamic batching, idle unload). KServe v2 clients address
// an endpoint as the model name "<project>.<endpoint>" (see inference_service.h). The A/B
// testing module builds on the targets and weights. An endpoint may name a feature service of its
// project: requests then carry entity keys and the server fetches the features
// (feature_provider.h).
//
// Each target is an arm with a unique name; the endpoint's traffic policy (traffic_policy.h)
// decides how requests pick an arm, mirrors traffic to shadow arms and ramps a canary.
//
// Thread-safety: all state lives in the MetadataStore; every method may be called concurrently,
// except SetFeatureProvider, which is called once before any other. Mutate is a compare-and-set,
// so concurrent mutations never lose each other's changes.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "registry/model_registry.h"
#include "serving/feature_provider.h"
#include "serving/traffic_policy.h"
#include "storage/metadata_store.h"

namespace falaj::serving {

struct EndpointTarget {
  // The arm: unique in the endpoint; defaults to "<model>@<alias>" or "<model>:v<version>".
  std::string name;
  std::string model;
  std::optional<int64_t> version;  // exactly one of version and alias is set
  std::string alias;
  int64_t weight = 1;  // share of traffic relative to the other targets' weights; 0 = none
};

struct BatchingSettings {
  int64_t max_batch_size = 0;  // rows per runtime call; 0 or 1 turns batching off
  int64_t max_queue_delay_us = 500;
  int64_t max_queue_rows = 4096;
};

struct Endpoint {
  std::string project;
  std::string name;
  std::string description;
  std::vector<EndpointTarget> targets;
  std::string runtime = "auto";  // auto, trees, xgboost or linear
  BatchingSettings batching;
  int64_t idle_unload_seconds = 0;  // unload targets idle this long (scale to zero); 0 = never
  int64_t request_timeout_ms = 0;   // fail requests still queued after this long; 0 = none
  // A feature service of the project whose features the server fetches for each request's
  // entity keys; "" = requests carry the model's input rows themselves.
  std::string feature_service;
  TrafficPolicy traffic;
  std::string created_by;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
};

class EndpointStore {
 public:
  // Nothing is owned; everything must outlive the store.
  EndpointStore(storage::MetadataStore& store, registry::ModelRegistry& registry,
                const Clock& clock = SystemClock::Instance());

  static const storage::MigrationSet& Migrations();
  static Result<int64_t> CountInProject(storage::Transaction& tx, std::string_view project);
  // The first endpoint (as "endpoint '<name>'") with a target pinned to the model version, for
  // the registry's refusal to delete a version in use.
  static Result<std::optional<std::string>> EndpointServing(storage::Transaction& tx,
                                                            std::string_view project,
                                                            std::string_view model,
                                                            int64_t version);

  // Where feature services are checked; without one, an endpoint naming a feature service is
  // refused. Not owned; must outlive the store.
  void SetFeatureProvider(FeatureProvider* provider) { features_ = provider; }

  // Validates the settings, that every target's model exists and its version or alias resolves,
  // and that the feature service (if any) resolves and can feed a model. INVALID_ARGUMENT /
  // NOT_FOUND / ALREADY_EXISTS.
  Result<Endpoint> Create(Endpoint endpoint);
  // Replaces targets and settings; keeps name, creator and creation time.
  Result<Endpoint> Update(Endpoint endpoint);
  Result<Endpoint> Get(std::string_view project, std::string_view name);
  // NOT_FOUND-free: nullopt when the project has no endpoint of that name.
  Result<std::optional<Endpoint>> Find(std::string_view project, std::string_view name);
  Result<std::vector<Endpoint>> List(std::string_view project);
  Status Delete(std::string_view project, std::string_view name);

  // Reads the endpoint, applies `change`, validates and writes it back if nobody wrote it in
  // between (else retries with the newer endpoint). For traffic changes (promotion, rollback,
  // canary steps) that must not undo a concurrent update. Errors: those of Get, of `change`,
  // of validation; UNAVAILABLE when the endpoint keeps changing under it.
  Result<Endpoint> Mutate(std::string_view project, std::string_view name,
                          const std::function<Status(Endpoint&)>& change);
  // Every endpoint of every project whose canary is ramping, for the canary controller.
  Result<std::vector<Endpoint>> ListRamping();

 private:
  Status Validate(const Endpoint& endpoint);
  Status ValidateFeatureService(const Endpoint& endpoint);

  storage::MetadataStore& store_;
  registry::ModelRegistry& registry_;
  const Clock& clock_;
  FeatureProvider* features_ = nullptr;
};

// Each target's share of traffic now: its weight, except while a canary ramps, when the canary
// arm has the current step's share and the baseline the rest (the other arms none). Same
// order as the targets; the scale is arbitrary (relative weights).
std::vector<int64_t> EffectiveWeights(const Endpoint& endpoint);
// The targets' arm names, in order.
std::vector<std::string> ArmNames(const Endpoint& endpoint);

// The endpoint as JSON (API answers) and back (request bodies; unknown fields refused).
nlohmann::json EndpointToJson(const Endpoint& endpoint);
Result<Endpoint> EndpointFromJson(const nlohmann::json& body);

}  // namespace falaj::serving
