#include "api/server.h"

#include <sys/stat.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "abtest/ab_test_service.h"
#include "abtest/ab_test_store.h"
#include "api/alert_routes.h"
#include "api/feature_provider_adapter.h"
#include "api/grpc_server.h"
#include "api/http_server.h"
#include "api/key_material.h"
#include "api/monitor_reference_source.h"
#include "api/monitor_routes.h"
#include "api/prediction_log_wiring.h"
#include "api/request_pipeline.h"
#include "api/residency_routes.h"
#include "api/routes.h"
#include "api/server_addresses.h"
#include "api/server_audit.h"
#include "common/clock.h"
#include "common/logging.h"
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
#include "jobs/command_job.h"
#include "jobs/job_service.h"
#include "monitoring/alert_http.h"
#include "monitoring/alert_service.h"
#include "monitoring/monitor_service.h"
#include "monitoring/monitored_values.h"
#include "monitoring/outcome_store.h"
#include "monitoring/prediction_log.h"
#include "projects/project_service.h"
#include "registry/model_registry.h"
#include "security/api_keys.h"
#include "security/audit_log.h"
#include "security/authenticator.h"
#include "security/authorizer.h"
#include "security/encrypted_blob_store.h"
#include "security/envelope.h"
#include "security/rate_limiter.h"
#include "security/residency.h"
#include "security/role_bindings.h"
#include "security/signing_key.h"
#include "serving/canary_controller.h"
#include "serving/endpoint_store.h"
#include "serving/endpoint_traffic.h"
#include "serving/model_manager.h"
#include "serving/predictor.h"
#include "storage/blob_store.h"
#include "storage/kv_store.h"
#include "storage/metadata_store.h"
#include "tracking/artifact_index.h"
#include "tracking/logged_models.h"
#include "tracking/tracking_store.h"
#include "training/training_service.h"
#include "training/tuning_job.h"
#include "training/tuning_service.h"

namespace falaj::api {

// Declared in dependency order: destroyed in reverse, so the HTTP server stops using the
// services before they go, and storage closes last.
struct Server::Parts {
  // The log's writer calls listeners (monitors, A/B tests) declared after it: it stops before
  // they go, also when start-up fails after it started.
  ~Parts() {
    if (prediction_log) prediction_log->Stop();
  }

  Config config;
  metrics::Registry metrics;
  std::atomic<bool> ready{false};
  std::unique_ptr<storage::MetadataStore> metadata;
  std::unique_ptr<storage::BlobStore> blobs;
  std::unique_ptr<security::ApiKeyService> keys;
  KeyMaterial keys_material;  // outlives everything that signs or encrypts with it
  std::unique_ptr<security::ProjectKeyring> keyring;
  std::unique_ptr<security::AuditLog> audit;
  std::unique_ptr<security::ResidencyService> residency;
  std::unique_ptr<registry::ModelRegistry> registry;
  std::unique_ptr<serving::ModelManager> models;
  std::unique_ptr<serving::EndpointStore> endpoints;
  std::unique_ptr<serving::Predictor> predictor;
  std::unique_ptr<serving::EndpointTraffic> traffic;  // TrafficControl: promotions, rollbacks
  // Set by monitors, read by canary guardrails and alert rules.
  std::unique_ptr<monitoring::MonitoredValues> monitored_values;
  std::unique_ptr<serving::CanaryController> canary;  // stops before what it uses goes
  std::unique_ptr<data::SourceStore> sources;
  std::unique_ptr<data::DatasetStore> datasets;
  std::unique_ptr<data::IngestService> ingest;
  std::unique_ptr<data::MqttSources> mqtt;  // stopped before storage closes
  std::unique_ptr<storage::KvStore> online_kv;
  std::unique_ptr<features::OnlineStore> online_store;
  std::unique_ptr<features::FeatureRegistry> feature_registry;
  std::unique_ptr<features::TrainingSetBuilder> training_sets;
  std::unique_ptr<features::Materializer> materializer;
  std::unique_ptr<features::OnlineFeatures> online_features;
  std::unique_ptr<features::ErasureService> erasures;
  std::unique_ptr<data::RetentionService> retention;  // its schedule stops before storage closes
  // Its writer drains and joins when Run ends, or at the latest here, before storage closes.
  std::unique_ptr<monitoring::PredictionLog> prediction_log;
  std::unique_ptr<monitoring::OutcomeStore> outcomes;
  std::unique_ptr<tracking::TrackingStore> tracking;
  std::unique_ptr<tracking::ArtifactIndex> artifact_index;
  std::unique_ptr<tracking::LoggedModelStore> logged_models;
  std::unique_ptr<serving::FeatureProvider> feature_provider;  // endpoints' feature services
  std::unique_ptr<security::RoleBindingService> bindings;
  std::unique_ptr<security::Authorizer> authorizer;
  std::unique_ptr<security::Authenticator> authenticator;
  std::unique_ptr<projects::ProjectService> projects;
  // A/B tests: destroyed before the registry, audit log and storage they use (the service
  // writes its buffered aggregates when it stops).
  std::unique_ptr<abtest::AbTestStore> abtest_store;
  std::unique_ptr<abtest::AbTestService> abtests;
  // After every service a job uses (keys, bindings, projects …): destroyed first, so running
  // handlers are cancelled and awaited while those still exist.
  std::unique_ptr<jobs::CommandJobs> command_jobs;
  std::unique_ptr<training::TrainingService> training;
  std::unique_ptr<training::TuningService> tuning;
  std::unique_ptr<training::TuningJob> tuning_job;
  std::unique_ptr<jobs::JobService> jobs;
  // Monitors (docs/monitoring.md): after storage, the registry and datasets they read; before the
  // router whose routes call them.
  std::unique_ptr<MonitorReferenceSource> monitor_references;
  std::unique_ptr<monitoring::MonitorService> monitors;
  // Alerts (docs/alerts.md): after the jobs their triggers submit, the notifier before the service.
  std::unique_ptr<monitoring::AlertNotifier> alert_notifier;
  std::unique_ptr<monitoring::AlertService> alerts;
  Router router;
  std::unique_ptr<RequestPipeline> pipeline;
  std::unique_ptr<security::RateLimiter> tls_refusals;  // audited refused TLS handshakes
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<GrpcServer> grpc;  // null when server.grpc_listen is "off"
};

namespace {

// Writes the generated admin key where only the server's user can read it.
Status WriteAdminKey(const std::string& data_dir, const std::string& key) {
  std::string path = data_dir + "/admin.key";
  std::FILE* file = std::fopen(path.c_str(), "wx");
  if (file == nullptr) {
    return MakeError(ErrorCode::kInternal, "cannot create '{}': {}", path, std::strerror(errno));
  }
  ::chmod(path.c_str(), 0600);
  bool written = std::fputs((key + "\n").c_str(), file) >= 0;
  written = std::fclose(file) == 0 && written;
  if (!written) return MakeError(ErrorCode::kInternal, "cannot write '{}'", path);
  return Ok();
}

// How often the canary controller judges ramping endpoints.
constexpr std::chrono::milliseconds kCanaryTick{250};

}  // namespace

Result<std::unique_ptr<Server>> Server::Create(const Config& config) {
  auto parts = std::make_unique<Parts>();
  parts->config = config;
  log::Level level;
  if (log::ParseLevel(config.log_level, &level)) log::SetLevel(level);
  metrics::AddProcessCollector(parts->metrics);

  std::error_code fs_error;
  std::filesystem::create_directories(config.storage.data_dir, fs_error);
  if (fs_error) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot create data directory '{}': {}",
                     config.storage.data_dir, fs_error.message());
  }
  auto metadata = storage::OpenMetadataStore(config.EffectiveMetadataUri(),
                                             static_cast<int>(config.server.worker_threads) + 1);
  if (!metadata) return std::unexpected(metadata.error());
  parts->metadata = std::move(*metadata);
  for (const auto* set :
       {&security::ApiKeyService::Migrations(), &security::AuditLog::Migrations(),
        &security::RoleBindingService::Migrations(), &security::ResidencyService::Migrations(),
        &security::ProjectKeyring::Migrations(), &security::EncryptedBlobStore::Migrations(),
        &registry::ModelRegistry::Migrations(), &serving::EndpointStore::Migrations(),
        &data::SourceStore::Migrations(), &data::DatasetStore::Migrations(),
        &features::FeatureRegistry::Migrations(), &features::Materializer::Migrations(),
        &features::ErasureService::Migrations(), &data::RetentionService::Migrations(),
        &tracking::TrackingStore::Migrations(), &tracking::ArtifactIndex::Migrations(),
        &tracking::LoggedModelStore::Migrations(), &jobs::JobService::Migrations(),
        &projects::ProjectService::Migrations()}) {
    FALAJ_RETURN_IF_ERROR(parts->metadata->Migrate(*set));
  }
  for (const auto* set :
       {&monitoring::PredictionLog::Migrations(), &monitoring::OutcomeStore::Migrations()}) {
    FALAJ_RETURN_IF_ERROR(parts->metadata->Migrate(*set));
  }
  auto blobs = storage::OpenBlobStore(config.EffectiveBlobUri());
  if (!blobs) return std::unexpected(blobs.error());
  parts->blobs = std::move(*blobs);

  parts->keys = std::make_unique<security::ApiKeyService>(*parts->metadata);
  FALAJ_ASSIGN_OR_RETURN(parts->keys_material, LoadKeyMaterial(config));
  parts->keyring =
      std::make_unique<security::ProjectKeyring>(*parts->metadata, *parts->keys_material.kek);
  parts->audit = std::make_unique<security::AuditLog>(*parts->metadata,
                                                      parts->keys_material.audit_signing.get());
  parts->bindings = std::make_unique<security::RoleBindingService>(*parts->metadata);
  parts->authorizer = std::make_unique<security::Authorizer>(*parts->bindings);
  std::optional<security::OidcSettings> oidc;
  if (!config.security.oidc.issuer.empty()) {
    const OidcConfig& settings = config.security.oidc;
    oidc = security::OidcSettings{{settings.issuer, settings.audiences, settings.algorithms,
                                   settings.leeway_seconds, 24 * 3600, settings.roles_claim},
                                  settings.jwks_file,
                                  {settings.jwks_uri, settings.jwks_ca_file,
                                   std::chrono::seconds(settings.jwks_timeout_seconds)},
                                  std::chrono::seconds(settings.jwks_refresh_cooldown_seconds),
                                  settings.admin_groups};
  }
  auto authenticator = security::Authenticator::Create(*parts->keys, oidc ? &*oidc : nullptr,
                                                       SystemClock::Instance());
  if (!authenticator) return std::unexpected(authenticator.error());
  parts->authenticator = std::move(*authenticator);
  parts->projects = std::make_unique<projects::ProjectService>(
      *parts->metadata, config.projects.regions, config.storage.region);
  if (config.storage.region.empty()) {
    log::Warn(
        "storage.region is not set: the server cannot check that project data is stored "
        "in its project's region");
  }
  parts->projects->RegisterOwnershipCheck(
      "API keys", [](storage::Transaction& tx, std::string_view project) {
        return security::ApiKeyService::CountLiveInProject(
            tx, project, ToUnixMillis(SystemClock::Instance().Now()));
      });
  parts->residency = std::make_unique<security::ResidencyService>(*parts->metadata);
  // Every project's artifacts are encrypted under its own data key, bound to its region.
  Parts* raw = parts.get();
  registry::ArtifactStores artifacts =
      [raw](std::string_view project) -> Result<std::unique_ptr<storage::BlobStore>> {
    FALAJ_ASSIGN_OR_RETURN(auto found, raw->projects->Get(project));
    return std::make_unique<security::EncryptedBlobStore>(*raw->blobs, *raw->keyring,
                                                          *raw->metadata, found.name, found.region);
  };
  parts->registry = std::make_unique<registry::ModelRegistry>(*parts->metadata, artifacts,
                                                              *parts->keys_material.model_signing);
  parts->projects->RegisterOwnershipCheck("models", registry::ModelRegistry::CountInProject);
  parts->models = std::make_unique<serving::ModelManager>(*parts->registry, parts->metrics);
  parts->endpoints = std::make_unique<serving::EndpointStore>(*parts->metadata, *parts->registry);
  parts->projects->RegisterOwnershipCheck("endpoints", serving::EndpointStore::CountInProject);
  parts->registry->RegisterVersionUsers(serving::EndpointStore::EndpointServing);
  parts->predictor =
      std::make_unique<serving::Predictor>(*parts->endpoints, *parts->registry, *parts->models);
  parts->traffic = std::make_unique<serving::EndpointTraffic>(*parts->endpoints, *parts->predictor);
  parts->monitored_values = std::make_unique<monitoring::MonitoredValues>();
  parts->canary = std::make_unique<serving::CanaryController>(
      *parts->endpoints, *parts->traffic, *parts->predictor, AuditCanaryDecisions(*parts->audit),
      [&values = *parts->monitored_values](std::string_view project,
                                           std::string_view name) -> std::optional<double> {
        auto found = values.Get(project, name);
        return found ? std::optional<double>(found->value) : std::nullopt;
      });
  // Connector secrets (passwords) are sealed under the project's data key, bound to its region
  // and to the source.
  data::SecretCipher cipher{[raw](std::string_view project, std::string_view object,
                                  std::string_view plaintext) -> Result<std::string> {
                              FALAJ_ASSIGN_OR_RETURN(auto found, raw->projects->Get(project));
                              return raw->keyring->Encrypt(project, found.region, object,
                                                           plaintext);
                            },
                            [raw](std::string_view project, std::string_view object,
                                  std::string_view sealed) -> Result<std::string> {
                              FALAJ_ASSIGN_OR_RETURN(auto found, raw->projects->Get(project));
                              return raw->keyring->Decrypt(project, found.region, object, sealed);
                            }};
  parts->sources = std::make_unique<data::SourceStore>(*parts->metadata, std::move(cipher));
  parts->datasets = std::make_unique<data::DatasetStore>(
      *parts->metadata, artifacts, [raw](std::string_view project) -> Result<std::string> {
        FALAJ_ASSIGN_OR_RETURN(auto found, raw->projects->Get(project));
        return found.region;
      });
  parts->ingest = std::make_unique<data::IngestService>(*parts->sources, *parts->datasets);
  parts->mqtt = std::make_unique<data::MqttSources>(*parts->sources, *parts->ingest);
  FALAJ_ASSIGN_OR_RETURN(parts->online_kv, storage::OpenKvStore(config.EffectiveOnlineUri()));
  parts->online_store = std::make_unique<features::OnlineStore>(*parts->online_kv);
  parts->feature_registry =
      std::make_unique<features::FeatureRegistry>(*parts->metadata, *parts->sources);
  parts->training_sets = std::make_unique<features::TrainingSetBuilder>(
      *parts->feature_registry, *parts->sources, *parts->datasets);
  parts->materializer = std::make_unique<features::Materializer>(
      *parts->metadata, *parts->feature_registry, *parts->sources, *parts->datasets,
      *parts->online_store, *parts->online_kv);
  parts->online_features =
      std::make_unique<features::OnlineFeatures>(*parts->feature_registry, *parts->online_store);
  parts->feature_provider = std::make_unique<OnlineFeatureProvider>(
      *parts->feature_registry, *parts->online_features, *parts->online_kv,
      config.EffectiveOnlineUri().starts_with("redis"));
  parts->endpoints->SetFeatureProvider(parts->feature_provider.get());
  parts->predictor->SetFeatureProvider(parts->feature_provider.get());
  parts->predictor->SetDeploymentGuard(
      [&residency = *parts->residency, &projects = *parts->projects,
       region = config.EffectiveNodeRegion()](std::string_view project) -> Status {
        auto decision = CheckNodeRegion(residency, projects, project, region);
        return decision ? Ok() : Status(std::unexpected(std::move(decision).error()));
      });
  parts->ingest->OnAccepted([raw](std::string_view project, std::string_view source,
                                  const arrow::Table& rows, int64_t dataset_version) {
    return raw->materializer->OnIngested(project, source, rows, dataset_version);
  });
  parts->erasures = std::make_unique<features::ErasureService>(
      *parts->metadata, *parts->datasets, *parts->feature_registry, *parts->online_store);
  parts->retention = std::make_unique<data::RetentionService>(
      *parts->metadata, *parts->datasets,
      [raw](std::string_view project) -> Result<std::vector<data::DatasetPin>> {
        std::vector<data::DatasetPin> pins;
        FALAJ_ASSIGN_OR_RETURN(auto models, raw->registry->ListModels(project));
        for (const auto& model : models) {
          FALAJ_ASSIGN_OR_RETURN(auto versions, raw->registry->ListVersions(project, model.name));
          for (const auto& version : versions) {
            auto found = data::PinsInLineage(
                version.lineage, fmt::format("model {} version {}", model.name, version.version));
            pins.insert(pins.end(), found.begin(), found.end());
          }
        }
        return pins;
      },
      *parts->audit);
  // The prediction log (docs/prediction-log.md): the predictor offers it sampled predictions.
  // Monitors and A/B tests subscribe to it (a monitoring::PredictionEventSource) before its
  // writer starts below.
  FALAJ_ASSIGN_OR_RETURN(
      auto log_options,
      MakePredictionLogOptions(config, *parts->projects, *parts->keyring, *parts->retention));
  parts->prediction_log = std::make_unique<monitoring::PredictionLog>(
      *parts->metadata, parts->metrics, std::move(log_options));
  parts->outcomes =
      std::make_unique<monitoring::OutcomeStore>(*parts->metadata, *parts->prediction_log);
  parts->predictor->SetPredictionSink(parts->prediction_log.get());
  parts->erasures->AddEraser("prediction_logs",
                             PredictionLogEraser(*parts->prediction_log, *parts->outcomes));
  // A project's logged predictions and outcomes must not outlive it (a project re-created under
  // the name would see them); the message tells how to purge them.
  parts->projects->RegisterOwnershipCheck(
      "logged predictions (purge each endpoint's with DELETE "
      "/api/v1/projects/{project}/endpoints/{endpoint}/predictions)",
      monitoring::PredictionLog::CountInProject);
  parts->projects->RegisterOwnershipCheck(
      "outcomes (purged with their endpoint's logged predictions: DELETE "
      "/api/v1/projects/{project}/endpoints/{endpoint}/predictions)",
      monitoring::OutcomeStore::CountInProject);
  parts->tracking = std::make_unique<tracking::TrackingStore>(*parts->metadata);
  parts->artifact_index = std::make_unique<tracking::ArtifactIndex>(*parts->metadata);
  parts->logged_models = std::make_unique<tracking::LoggedModelStore>(*parts->metadata);
  parts->projects->RegisterOwnershipCheck("experiments", tracking::TrackingStore::CountInProject);
  parts->jobs = std::make_unique<jobs::JobService>(
      *parts->metadata,
      jobs::JobServiceOptions{
          static_cast<int>(config.jobs.workers), static_cast<size_t>(config.jobs.queue_limit),
          config.storage.data_dir + "/jobs/logs", config.jobs.max_log_mb << 20,
          std::chrono::milliseconds(250), 1 << 20, [raw](std::string_view project) -> Status {
            FALAJ_RETURN_IF_ERROR(raw->projects->Get(project));
            return Ok();
          }});
  parts->projects->RegisterOwnershipCheck("queued or running jobs",
                                          jobs::JobService::CountInProject);
  parts->command_jobs = std::make_unique<jobs::CommandJobs>(
      *parts->keys, *parts->bindings,
      jobs::CommandJobOptions{config.jobs.commands_enabled, config.storage.data_dir + "/jobs/work",
                              [raw] { return LocalUrl(raw->config.server, raw->http->port()); }});
  parts->command_jobs->Register(*parts->jobs);
  // Built-in training and tuning (docs/training.md, docs/tuning.md): specs are checked at
  // submission, so a bad one is a 400 naming the field.
  parts->training = std::make_unique<training::TrainingService>(
      *parts->datasets, parts->feature_registry.get(), parts->training_sets.get(), *parts->tracking,
      *parts->registry, artifacts);
  parts->training->SetDistributedRuntime(
      {config.training.python, config.training.collective_script});
  parts->tuning = std::make_unique<training::TuningService>(*parts->tracking);
  parts->tuning_job =
      std::make_unique<training::TuningJob>(*parts->training, *parts->tuning, *parts->tracking);
  parts->jobs->RegisterRunner(
      "train",
      [raw](const jobs::Job& job, jobs::JobContext& context) {
        return raw->training->Run(job.project, job.spec, context);
      },
      /*resumable=*/true,
      [](const nlohmann::json& spec) -> Status {
        FALAJ_RETURN_IF_ERROR(training::ParseTrainingSpec(spec));
        return Ok();
      });
  parts->jobs->RegisterRunner(
      "tune",
      [raw](const jobs::Job& job, jobs::JobContext& context) {
        return raw->tuning_job->Run(job.project, job.spec, context);
      },
      /*resumable=*/true, training::ValidateTuningJobSpec);
  parts->projects->RegisterOwnershipCheck("retention policies",
                                          data::RetentionService::CountInProject);
  parts->projects->RegisterOwnershipCheck("feature definitions",
                                          features::FeatureRegistry::CountInProject);
  parts->projects->RegisterOwnershipCheck("sources", data::SourceStore::CountInProject);
  parts->projects->RegisterOwnershipCheck("datasets", data::DatasetStore::CountInProject);
  parts->projects->RegisterOwnershipCheck("transfer policies",
                                          security::ResidencyService::CountInProject);
  parts->projects->RegisterOwnershipCheck("member role bindings",
                                          security::RoleBindingService::CountInProject);

  // A/B tests (docs/abtest.md): decisions move traffic through the endpoints' traffic control,
  // and a promotion moves an alias to the version the treatment arm serves.
  FALAJ_RETURN_IF_ERROR(parts->metadata->Migrate(abtest::AbTestStore::Migrations()));
  parts->abtest_store = std::make_unique<abtest::AbTestStore>(*parts->metadata);
  parts->abtests = std::make_unique<abtest::AbTestService>(
      *parts->abtest_store, parts->registry.get(), parts->audit.get());
  parts->abtests->SetEndpointCheck(
      [raw](std::string_view project, std::string_view endpoint) -> Status {
        FALAJ_RETURN_IF_ERROR(raw->endpoints->Get(project, endpoint));
        return Ok();
      });
  parts->abtests->SetTrafficControl(parts->traffic.get());
  parts->abtests->SetArmModels(
      [raw](std::string_view project, std::string_view endpoint,
            std::string_view arm) -> Result<std::optional<abtest::ArmModel>> {
        FALAJ_ASSIGN_OR_RETURN(auto found, raw->endpoints->Get(project, endpoint));
        for (const auto& target : found.targets) {
          if (target.name != arm) continue;
          if (target.version) return abtest::ArmModel{target.model, *target.version};
          FALAJ_ASSIGN_OR_RETURN(int64_t version,
                                 raw->registry->ResolveAlias(project, target.model, target.alias));
          return abtest::ArmModel{target.model, version};
        }
        return std::optional<abtest::ArmModel>();
      });
  parts->projects->RegisterOwnershipCheck("A/B tests", abtest::AbTestStore::CountInProject);
  FALAJ_RETURN_IF_ERROR(parts->abtests->Start());

  auto bootstrapped = parts->keys->Bootstrap(config.security.bootstrap_admin_key);
  if (!bootstrapped) return std::unexpected(bootstrapped.error());
  if (bootstrapped->has_value() && config.security.bootstrap_admin_key.empty()) {
    FALAJ_RETURN_IF_ERROR(WriteAdminKey(config.storage.data_dir, (*bootstrapped)->plaintext));
    // Printed once, on the first start only; afterwards it lives only in admin.key.
    std::printf("falaj: created admin API key %s (saved to %s/admin.key)\n",
                (*bootstrapped)->plaintext.c_str(), config.storage.data_dir.c_str());
    std::fflush(stdout);
  }

  FALAJ_RETURN_IF_ERROR(
      AddAllRoutes(parts->router, {parts->ready,
                                   parts->metrics,
                                   *parts->projects,
                                   *parts->authorizer,
                                   *parts->keys,
                                   *parts->bindings,
                                   *parts->audit,
                                   *parts->residency,
                                   *parts->registry,
                                   artifacts,
                                   *parts->models,
                                   *parts->endpoints,
                                   *parts->predictor,
                                   *parts->sources,
                                   *parts->datasets,
                                   *parts->ingest,
                                   *parts->mqtt,
                                   *parts->feature_registry,
                                   *parts->training_sets,
                                   *parts->materializer,
                                   *parts->online_features,
                                   *parts->erasures,
                                   *parts->retention,
                                   *parts->tracking,
                                   *parts->artifact_index,
                                   *parts->logged_models,
                                   *parts->jobs,
                                   parts->keys_material.audit_signing->PublicKeyRaw(),
                                   config.EffectiveNodeRegion(),
                                   parts->abtests.get(),
                                   parts->prediction_log.get(),
                                   parts->outcomes.get()}));
  FALAJ_RETURN_IF_ERROR(parts->metadata->Migrate(monitoring::MonitorService::Migrations()));
  parts->monitor_references = std::make_unique<MonitorReferenceSource>(
      *parts->registry, artifacts, *parts->endpoints, *parts->datasets);
  parts->monitors = std::make_unique<monitoring::MonitorService>(
      *parts->metadata, *parts->monitor_references, *parts->monitored_values, parts->metrics,
      SystemClock::Instance());
  parts->projects->RegisterOwnershipCheck("monitors", monitoring::MonitorService::CountInProject);
  FALAJ_RETURN_IF_ERROR(AddMonitorRoutes(parts->router, *parts->monitors));
  FALAJ_RETURN_IF_ERROR(parts->metadata->Migrate(monitoring::AlertService::Migrations()));
  parts->alert_notifier = std::make_unique<monitoring::AlertNotifier>(
      [](const std::string& url, const std::string& body) {
        return monitoring::PostJson(url, body, std::chrono::seconds(5));
      },
      parts->metrics);
  parts->alerts = std::make_unique<monitoring::AlertService>(
      *parts->metadata, *parts->monitored_values, *parts->jobs, *parts->alert_notifier,
      SystemClock::Instance(), [raw] { return LocalUrl(raw->config.server, raw->http->port()); });
  parts->projects->RegisterOwnershipCheck("alert rules", monitoring::AlertService::CountInProject);
  FALAJ_RETURN_IF_ERROR(AddAlertRoutes(parts->router, *parts->alerts));
  parts->pipeline = std::make_unique<RequestPipeline>(
      parts->router,
      RequestPipeline::Services{*parts->authenticator, *parts->authorizer, *parts->audit,
                                *parts->projects},
      config.security.rate_limit, parts->metrics);
  const int64_t refusals_per_minute = config.security.rate_limit.auth_failures_per_minute;
  parts->tls_refusals = std::make_unique<security::RateLimiter>(
      static_cast<double>(refusals_per_minute) / 60.0, static_cast<double>(refusals_per_minute));
  parts->http =
      std::make_unique<HttpServer>(parts->config.server, *parts->pipeline,
                                   AuditCertificateRefusals(*parts->audit, *parts->tls_refusals));
  FALAJ_RETURN_IF_ERROR(parts->http->Start());
  if (config.server.grpc_listen != "off") {
    FALAJ_ASSIGN_OR_RETURN(
        parts->grpc,
        GrpcServer::Start(GrpcAddress(config.server, parts->http->port()), config.server.tls,
                          {*parts->predictor, *parts->authenticator, *parts->authorizer,
                           *parts->audit, config.security.rate_limit},
                          parts->metrics));
  }
  // Monitors and A/B tests learn of every logged prediction and outcome; listeners are attached
  // before the writer starts.
  parts->prediction_log->AddPredictionListener(parts->monitors.get());
  parts->prediction_log->AddPredictionListener(parts->abtests.get());
  parts->prediction_log->AddOutcomeListener(parts->monitors.get());
  parts->prediction_log->AddOutcomeListener(parts->abtests.get());
  parts->prediction_log->Start();
  // Jobs start once the server can answer: a command job talks to it.
  FALAJ_RETURN_IF_ERROR(parts->jobs->Start());
  FALAJ_RETURN_IF_ERROR(parts->monitors->Start());
  FALAJ_RETURN_IF_ERROR(parts->alerts->Start());
  // MQTT sources subscribe once the server can answer; one whose broker is down is retried.
  FALAJ_RETURN_IF_ERROR(parts->mqtt->Start());
  if (config.retention.interval_seconds > 0) {
    parts->retention->StartSchedule(std::chrono::seconds(config.retention.interval_seconds));
  }
  parts->canary->Start(kCanaryTick);
  parts->ready = true;
  log::Info("listening", {{"address", config.server.listen},
                          {"port", parts->http->port()},
                          {"grpc_port", parts->grpc ? parts->grpc->port() : 0},
                          {"tls", parts->http->tls()},
                          {"data_dir", config.storage.data_dir},
                          {"metadata", parts->metadata->backend()}});
  // On stdout whatever the log level, so scripts (and people) always learn the bound port.
  std::printf("falaj: serving %s://%s\n", parts->http->tls() ? "https" : "http",
              ReplacePort(config.server.listen, parts->http->port()).c_str());
  std::fflush(stdout);
  return std::unique_ptr<Server>(new Server(std::move(parts)));
}

Server::Server(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Server::~Server() = default;

uint16_t Server::port() const { return parts_->http->port(); }

void Server::Run() {
  parts_->http->Run();
  parts_->ready = false;
  // HTTP has drained; gRPC calls in flight get the same grace.
  if (parts_->grpc) {
    parts_->grpc->Stop(std::chrono::seconds(parts_->config.server.shutdown_grace_seconds));
  }
  // Nothing serves predictions any more: the log writes what is queued, syncs and stops.
  parts_->prediction_log->Stop();
  // Alert evaluation stops before jobs do, so no trigger is submitted to a stopping queue; the
  // monitors' window timer with it.
  parts_->alerts->Stop();
  parts_->monitors->Stop();
  // Running jobs are asked to stop (commands get SIGTERM, then SIGKILL) and awaited.
  parts_->jobs->Shutdown(std::chrono::seconds(parts_->config.server.shutdown_grace_seconds + 10));
  // MQTT subscribers flush what they buffered into datasets while storage is still open.
  parts_->mqtt->Stop();
  // Anchor everything logged so far under a signature before the process goes away.
  if (Status anchored = parts_->audit->Checkpoint(); !anchored) {
    log::Error("audit checkpoint at shutdown failed", {{"error", anchored.error().message}});
  }
  log::Info("stopped; closing storage");
}

void Server::Stop() { parts_->http->Stop(); }

}  // namespace falaj::api
