// The full route table of the server, in one place: the server registers exactly this, and the
// contract test compares exactly this against api/openapi.yaml.
#pragma once

#include <atomic>

#include "abtest/ab_test_service.h"
#include "api/router.h"
#include "common/metrics.h"
#include "data/dataset_store.h"
#include "data/ingest_service.h"
#include "data/mqtt_ingest.h"
#include "data/retention.h"
#include "data/source_store.h"
#include "features/erasure.h"
#include "features/feature_registry.h"
#include "features/materializer.h"
#include "features/online_features.h"
#include "features/training_sets.h"
#include "jobs/job_service.h"
#include "monitoring/outcome_store.h"
#include "monitoring/prediction_log.h"
#include "projects/project_service.h"
#include "registry/model_registry.h"
#include "security/api_keys.h"
#include "security/audit_log.h"
#include "security/authorizer.h"
#include "security/residency.h"
#include "security/role_bindings.h"
#include "serving/endpoint_store.h"
#include "serving/model_manager.h"
#include "serving/predictor.h"
#include "tracking/artifact_index.h"
#include "tracking/logged_models.h"
#include "tracking/tracking_store.h"

namespace falaj::api {

struct RouteDependencies {
  const std::atomic<bool>& ready;
  const metrics::Registry& metrics;
  projects::ProjectService& projects;
  security::Authorizer& authorizer;
  security::ApiKeyService& keys;
  security::RoleBindingService& bindings;
  security::AuditLog& audit;
  security::ResidencyService& residency;
  registry::ModelRegistry& registry;
  registry::ArtifactStores artifacts;
  serving::ModelManager& models;
  serving::EndpointStore& endpoints;
  serving::Predictor& predictor;
  data::SourceStore& sources;
  data::DatasetStore& datasets;
  data::IngestService& ingest;
  data::MqttSources& mqtt;
  features::FeatureRegistry& feature_registry;
  features::TrainingSetBuilder& training_sets;
  features::Materializer& materializer;
  features::OnlineFeatures& online_features;
  features::ErasureService& erasures;
  data::RetentionService& retention;
  tracking::TrackingStore& tracking;
  tracking::ArtifactIndex& artifact_index;
  tracking::LoggedModelStore& logged_models;
  jobs::JobService& jobs;
  std::string audit_public_key;  // raw Ed25519 key that signs audit checkpoints
  // Region of this serving node; "" when undeclared. Initialised so that brace-initialisers
  // stopping before it stay warning-free.
  std::string node_region = {};
  // A/B tests; null when the server runs without them (their routes then answer UNAVAILABLE).
  abtest::AbTestService* abtests = nullptr;
  // The prediction log and the feedback API; their routes are registered when both are given.
  monitoring::PredictionLog* prediction_log = nullptr;
  monitoring::OutcomeStore* outcomes = nullptr;
};

Status AddAllRoutes(Router& router, const RouteDependencies& dependencies);

}  // namespace falaj::api
