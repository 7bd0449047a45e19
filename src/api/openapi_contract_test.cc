// The contract test: every registered route is in api/openapi.yaml with the same permission,
// and every operation in the spec is a registered route.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "api/alert_routes.h"
#include "api/monitor_reference_source.h"
#include "api/monitor_routes.h"
#include "api/routes.h"
#include "api/system_routes.h"
#include "storage/kv_store.h"
#include "storage/metadata_store.h"

namespace falaj::api {
namespace {

// Registration alone never touches artifacts.
registry::ArtifactStores NoArtifacts() {
  return [](std::string_view) -> Result<std::unique_ptr<storage::BlobStore>> {
    return MakeError(ErrorCode::kUnimplemented, "no artifacts in the contract test");
  };
}

class OpenApiContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ =
        std::filesystem::temp_directory_path() / ("falaj_contract_" + std::to_string(::getpid()));
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 1);
    ASSERT_TRUE(store) << store.error().message;
    store_ = std::move(*store);
    projects_ = std::make_unique<projects::ProjectService>(*store_, std::vector<std::string>{"x"});
    keys_ = std::make_unique<security::ApiKeyService>(*store_);
    bindings_ = std::make_unique<security::RoleBindingService>(*store_);
    authorizer_ = std::make_unique<security::Authorizer>(*bindings_);
    audit_ = std::make_unique<security::AuditLog>(*store_);
    residency_ = std::make_unique<security::ResidencyService>(*store_);
    auto signing = security::SigningKey::Generate();
    ASSERT_TRUE(signing);
    signing_key_ = std::make_unique<security::SigningKey>(std::move(*signing));
    registry_ = std::make_unique<registry::ModelRegistry>(*store_, NoArtifacts(), *signing_key_);
    models_ = std::make_unique<serving::ModelManager>(*registry_, metrics_);
    endpoints_ = std::make_unique<serving::EndpointStore>(*store_, *registry_);
    predictor_ = std::make_unique<serving::Predictor>(*endpoints_, *registry_, *models_);
    sources_ = std::make_unique<data::SourceStore>(*store_);
    datasets_ = std::make_unique<data::DatasetStore>(
        *store_, NoArtifacts(), [](std::string_view) -> Result<std::string> { return "x"; });
    ingest_ = std::make_unique<data::IngestService>(*sources_, *datasets_);
    mqtt_ = std::make_unique<data::MqttSources>(*sources_, *ingest_);
    auto kv = storage::OpenKvStore("rocksdb://" + (directory_ / "online").string());
    ASSERT_TRUE(kv) << kv.error().message;
    kv_ = std::move(*kv);
    online_store_ = std::make_unique<features::OnlineStore>(*kv_);
    feature_registry_ = std::make_unique<features::FeatureRegistry>(*store_, *sources_);
    training_sets_ =
        std::make_unique<features::TrainingSetBuilder>(*feature_registry_, *sources_, *datasets_);
    materializer_ = std::make_unique<features::Materializer>(*store_, *feature_registry_, *sources_,
                                                             *datasets_, *online_store_, *kv_);
    online_features_ =
        std::make_unique<features::OnlineFeatures>(*feature_registry_, *online_store_);
    erasures_ = std::make_unique<features::ErasureService>(*store_, *datasets_, *feature_registry_,
                                                           *online_store_);
    retention_ = std::make_unique<data::RetentionService>(
        *store_, *datasets_,
        [](std::string_view) -> Result<std::vector<data::DatasetPin>> { return {}; }, *audit_);
    tracking_ = std::make_unique<tracking::TrackingStore>(*store_);
    artifact_index_ = std::make_unique<tracking::ArtifactIndex>(*store_);
    logged_models_ = std::make_unique<tracking::LoggedModelStore>(*store_);
    jobs_ = std::make_unique<jobs::JobService>(*store_, jobs::JobServiceOptions{});
    prediction_log_ = std::make_unique<monitoring::PredictionLog>(
        *store_, metrics_, monitoring::PredictionLogOptions{(directory_ / "log").string()});
    outcomes_ = std::make_unique<monitoring::OutcomeStore>(*store_, *prediction_log_);
    ASSERT_TRUE(AddAllRoutes(router_, {ready_,
                                       metrics_,
                                       *projects_,
                                       *authorizer_,
                                       *keys_,
                                       *bindings_,
                                       *audit_,
                                       *residency_,
                                       *registry_,
                                       NoArtifacts(),
                                       *models_,
                                       *endpoints_,
                                       *predictor_,
                                       *sources_,
                                       *datasets_,
                                       *ingest_,
                                       *mqtt_,
                                       *feature_registry_,
                                       *training_sets_,
                                       *materializer_,
                                       *online_features_,
                                       *erasures_,
                                       *retention_,
                                       *tracking_,
                                       *artifact_index_,
                                       *logged_models_,
                                       *jobs_,
                                       std::string(32, 'k'),
                                       "",
                                       nullptr,
                                       prediction_log_.get(),
                                       outcomes_.get()}));
    // Monitors and alerts are registered by the server after AddAllRoutes.
    monitor_references_ = std::make_unique<MonitorReferenceSource>(*registry_, NoArtifacts(),
                                                                   *endpoints_, *datasets_);
    monitors_ = std::make_unique<monitoring::MonitorService>(
        *store_, *monitor_references_, monitored_values_, metrics_, SystemClock::Instance());
    ASSERT_TRUE(AddMonitorRoutes(router_, *monitors_));
    notifier_ = std::make_unique<monitoring::AlertNotifier>(
        [](const std::string&, const std::string&) -> Result<int> { return 200; }, metrics_);
    alerts_ = std::make_unique<monitoring::AlertService>(
        *store_, monitored_values_, *jobs_, *notifier_, SystemClock::Instance(),
        [] { return std::string("http://127.0.0.1"); });
    ASSERT_TRUE(AddAlertRoutes(router_, *alerts_));
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  static std::string Lower(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  }

  std::filesystem::path directory_;
  std::atomic<bool> ready_{true};
  metrics::Registry metrics_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<monitoring::PredictionLog> prediction_log_;
  std::unique_ptr<monitoring::OutcomeStore> outcomes_;
  std::unique_ptr<projects::ProjectService> projects_;
  std::unique_ptr<security::ApiKeyService> keys_;
  std::unique_ptr<security::RoleBindingService> bindings_;
  std::unique_ptr<security::Authorizer> authorizer_;
  std::unique_ptr<security::AuditLog> audit_;
  std::unique_ptr<security::ResidencyService> residency_;
  std::unique_ptr<jobs::JobService> jobs_;
  std::unique_ptr<security::SigningKey> signing_key_;
  std::unique_ptr<registry::ModelRegistry> registry_;
  std::unique_ptr<serving::ModelManager> models_;
  std::unique_ptr<serving::EndpointStore> endpoints_;
  std::unique_ptr<serving::Predictor> predictor_;
  std::unique_ptr<data::SourceStore> sources_;
  std::unique_ptr<data::DatasetStore> datasets_;
  std::unique_ptr<data::IngestService> ingest_;
  std::unique_ptr<data::MqttSources> mqtt_;
  std::unique_ptr<storage::KvStore> kv_;
  std::unique_ptr<features::OnlineStore> online_store_;
  std::unique_ptr<features::FeatureRegistry> feature_registry_;
  std::unique_ptr<features::TrainingSetBuilder> training_sets_;
  std::unique_ptr<features::Materializer> materializer_;
  std::unique_ptr<features::OnlineFeatures> online_features_;
  std::unique_ptr<features::ErasureService> erasures_;
  std::unique_ptr<data::RetentionService> retention_;
  std::unique_ptr<tracking::TrackingStore> tracking_;
  std::unique_ptr<tracking::ArtifactIndex> artifact_index_;
  std::unique_ptr<tracking::LoggedModelStore> logged_models_;
  monitoring::MonitoredValues monitored_values_;
  std::unique_ptr<MonitorReferenceSource> monitor_references_;
  std::unique_ptr<monitoring::MonitorService> monitors_;
  std::unique_ptr<monitoring::AlertNotifier> notifier_;
  std::unique_ptr<monitoring::AlertService> alerts_;
  Router router_;
};

TEST_F(OpenApiContractTest, SpecAndRouteTableMatch) {
  YAML::Node spec = YAML::LoadFile(std::string(FALAJ_SOURCE_DIR) + "/api/openapi.yaml");
  std::set<std::string> documented;
  for (const auto& path : spec["paths"]) {
    for (const auto& operation : path.second) {
      std::string method = operation.first.as<std::string>();
      if (method == "parameters") continue;
      std::string key = method + " " + path.first.as<std::string>();
      documented.insert(key);
      ASSERT_TRUE(operation.second["x-falaj-permission"]) << key << " has no x-falaj-permission";
    }
  }
  std::set<std::string> registered;
  for (const auto& route : router_.routes()) {
    std::string key = Lower(route.method) + " " + route.pattern;
    registered.insert(key);
    EXPECT_TRUE(documented.count(key)) << "route missing from api/openapi.yaml: " << key;
    if (!documented.count(key)) continue;
    auto operation = spec["paths"][route.pattern][Lower(route.method)];
    EXPECT_EQ(operation["x-falaj-permission"].as<std::string>(), route.permission) << key;
  }
  for (const auto& key : documented) {
    EXPECT_TRUE(registered.count(key))
        << "api/openapi.yaml names a route that does not exist: " << key;
  }
}

TEST_F(OpenApiContractTest, ServedDocumentIsTheRepositoryFile) {
  std::ifstream file(std::string(FALAJ_SOURCE_DIR) + "/api/openapi.yaml");
  std::string content((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  EXPECT_EQ(OpenApiDocument(), content);
}

}  // namespace
}  // namespace falaj::api
