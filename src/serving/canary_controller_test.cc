#include "serving/canary_controller.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "common/metrics.h"
#include "security/signing_key.h"
#include "storage/blob_store.h"

namespace falaj::serving {
namespace {

class TestClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override { return FromUnixMillis(ms_); }
  void Advance(int64_t ms) { ms_ += ms; }

 private:
  std::atomic<int64_t> ms_{1'700'000'000'000};
};

// A real store, registry, endpoint store and predictor; no model is ever loaded (the controller
// only reads counters and writes endpoints).
class CanaryControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("falaj_canary_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(directory_);
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 2);
    ASSERT_TRUE(store);
    store_ = std::move(*store);
    ASSERT_TRUE(store_->Migrate(registry::ModelRegistry::Migrations()));
    ASSERT_TRUE(store_->Migrate(EndpointStore::Migrations()));
    auto key = security::SigningKey::Generate();
    ASSERT_TRUE(key);
    key_ = std::make_unique<security::SigningKey>(std::move(*key));
    const std::string blobs = "file://" + (directory_ / "blobs").string();
    registry_ = std::make_unique<registry::ModelRegistry>(
        *store_, [blobs](std::string_view) { return storage::OpenBlobStore(blobs); }, *key_);
    ASSERT_TRUE(registry_->CreateModel({"p", "m", "", {}, "k", 0, 0}));
    auto digest = (*storage::OpenBlobStore(blobs))->Put("{}");
    ASSERT_TRUE(digest);
    for (int i = 0; i < 2; ++i) {
      registry::NewVersion version;
      version.format = "xgboost";
      version.files = {{"model.json", *digest, 2}};
      ASSERT_TRUE(registry_->RegisterVersion("p", "m", std::move(version)));
    }
    endpoints_ = std::make_unique<EndpointStore>(*store_, *registry_, clock_);
    models_ = std::make_unique<ModelManager>(*registry_, metrics_);
    predictor_ = std::make_unique<Predictor>(*endpoints_, *registry_, *models_);
    traffic_ = std::make_unique<EndpointTraffic>(*endpoints_, *predictor_);
    controller_ = std::make_unique<CanaryController>(
        *endpoints_, *traffic_, *predictor_,
        [this](const CanaryController::Decision& decision) { decisions_.push_back(decision); },
        [this](std::string_view, std::string_view name) -> std::optional<double> {
          if (name == "drift" && drift_) return *drift_;
          return std::nullopt;
        },
        clock_);
  }
  void TearDown() override {
    controller_.reset();
    predictor_.reset();
    models_.reset();
    endpoints_.reset();
    registry_.reset();
    store_.reset();
    std::filesystem::remove_all(directory_);
  }

  void CreateRamp(const char* guardrails_json) {
    Endpoint endpoint;
    endpoint.project = "p";
    endpoint.name = "e";
    endpoint.targets = {{"champion", "m", 1, "", 1}, {"challenger", "m", 2, "", 0}};
    auto guardrails = nlohmann::json::parse(guardrails_json);
    auto policy = TrafficPolicyFromJson({{"canary",
                                          {{"arm", "challenger"},
                                           {"baseline", "champion"},
                                           {"steps", {10, 50, 100}},
                                           {"step_seconds", 60},
                                           {"guardrails", guardrails}}}},
                                        PolicySource::kBody);
    ASSERT_TRUE(policy) << policy.error().message;
    endpoint.traffic = *policy;
    auto created = endpoints_->Create(endpoint);
    ASSERT_TRUE(created) << created.error().message;
  }
  CanaryState State() { return *endpoints_->Get("p", "e")->traffic.canary_state; }
  void Serve(int requests, int errors) {
    auto arm = predictor_->arm_stats().For("p", "e", "challenger");
    for (int i = 0; i < requests; ++i) arm->Record(i >= errors, 1000);
  }

  std::filesystem::path directory_;
  TestClock clock_;
  metrics::Registry metrics_;
  std::unique_ptr<storage::MetadataStore> store_;
  std::unique_ptr<security::SigningKey> key_;
  std::unique_ptr<registry::ModelRegistry> registry_;
  std::unique_ptr<EndpointStore> endpoints_;
  std::unique_ptr<ModelManager> models_;
  std::unique_ptr<Predictor> predictor_;
  std::unique_ptr<EndpointTraffic> traffic_;
  std::unique_ptr<CanaryController> controller_;
  std::vector<CanaryController::Decision> decisions_;
  std::optional<double> drift_;
};

TEST_F(CanaryControllerTest, StepsAdvanceOnlyAfterTheirTimeAndRequestsThenPromote) {
  CreateRamp(R"({"max_error_rate": 0.1, "min_requests": 10})");
  controller_->Tick();
  Serve(10, 0);
  controller_->Tick();
  EXPECT_EQ(State().step, 0u);  // enough requests, not enough time
  clock_.Advance(60'000);
  Serve(5, 0);
  controller_->Tick();
  EXPECT_EQ(State().step, 1u);
  clock_.Advance(60'000);
  Serve(9, 0);
  controller_->Tick();
  EXPECT_EQ(State().step, 1u);  // the new step has only 9 of its 10 requests
  Serve(1, 0);
  controller_->Tick();
  EXPECT_EQ(State().step, 2u);
  clock_.Advance(60'000);
  Serve(10, 0);
  controller_->Tick();
  EXPECT_EQ(State().status, "promoted");
  ASSERT_EQ(decisions_.size(), 1u);
  EXPECT_EQ(decisions_[0].action, "promote");
  auto arms = traffic_->Arms("p", "e");
  ASSERT_TRUE(arms);
  EXPECT_EQ((*arms)[0].weight, 0);
  EXPECT_EQ((*arms)[1].weight, 1);
}

TEST_F(CanaryControllerTest, AnErrorRateBreachRollsBackOnceMinRequestsAreIn) {
  CreateRamp(R"({"max_error_rate": 0.1, "min_requests": 10})");
  controller_->Tick();
  Serve(5, 5);
  controller_->Tick();
  EXPECT_EQ(State().status, "ramping");  // too few requests to judge
  Serve(5, 0);
  controller_->Tick();
  const CanaryState state = State();
  EXPECT_EQ(state.status, "rolled_back");
  EXPECT_NE(state.reason.find("error rate 0.5000"), std::string::npos) << state.reason;
  ASSERT_EQ(decisions_.size(), 1u);
  EXPECT_EQ(decisions_[0].action, "rollback");
  EXPECT_EQ(decisions_[0].arm, "champion");
}

TEST_F(CanaryControllerTest, AMonitoredValueAboveItsMaxRollsBack) {
  CreateRamp(R"({"monitored": [{"name": "drift", "max": 0.3}]})");
  drift_ = 0.3;
  controller_->Tick();
  EXPECT_EQ(State().status, "ramping");
  drift_ = 0.31;
  controller_->Tick();
  EXPECT_EQ(State().status, "rolled_back");
  EXPECT_NE(State().reason.find("monitored value 'drift' is 0.31"), std::string::npos);
  controller_->Tick();  // nothing ramps any more: no second decision
  EXPECT_EQ(decisions_.size(), 1u);
}

TEST_F(CanaryControllerTest, AHumanDecisionEndsTheRampAndTheControllerLeavesIt) {
  CreateRamp(R"({"min_requests": 0})");
  ASSERT_TRUE(traffic_->RouteAllTo("p", "e", "champion", "key:ops"));
  EXPECT_EQ(State().status, "rolled_back");
  EXPECT_NE(State().reason.find("key:ops"), std::string::npos);
  clock_.Advance(600'000);
  controller_->Tick();
  EXPECT_TRUE(decisions_.empty());
  EXPECT_EQ(traffic_->RouteAllTo("p", "e", "nobody", "key:ops").error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace falaj::serving
