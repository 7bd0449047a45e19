// The A/B test service fed straight through its listener methods, as the prediction log will
// feed it: exposure counting, once-per-unit conversions, shadows ignored, aggregates kept over a
// restart, the automatic policy's promote / rollback / stop, and decisions.
#include "abtest/ab_test_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

namespace falaj::abtest {
namespace {

namespace fs = std::filesystem;

// Records where traffic was sent (or refuses to send it); the arms are fixed.
class FakeTraffic final : public serving::TrafficControl {
 public:
  Result<std::vector<serving::ArmWeight>> Arms(std::string_view project,
                                               std::string_view endpoint) override {
    if (project != "p" || endpoint != "scoring") {
      return MakeError(ErrorCode::kNotFound, "no endpoint '{}'", endpoint);
    }
    return arms;
  }
  Status RouteAllTo(std::string_view, std::string_view, std::string_view arm,
                    std::string_view) override {
    if (refuse) return MakeError(ErrorCode::kUnavailable, "the router is down");
    std::lock_guard lock(mutex);
    routed.emplace_back(arm);
    return Ok();
  }
  std::vector<serving::ArmWeight> arms = {{"blue", 50}, {"green", 50}, {"idle", 0}};
  std::mutex mutex;
  std::vector<std::string> routed;
  bool refuse = false;
};

class AbTestServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() /
                 ("falaj_abtest_service_" + std::to_string(::getpid()) + "_" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(directory_);
    fs::create_directories(directory_);
    Open();
  }
  void TearDown() override {
    service_.reset();
    audit_.reset();
    tests_.reset();
    metadata_.reset();
    fs::remove_all(directory_);
  }

  void Open() {
    auto store = storage::OpenMetadataStore("sqlite://" + (directory_ / "m.db").string(), 2);
    ASSERT_TRUE(store) << store.error().message;
    metadata_ = std::move(*store);
    ASSERT_TRUE(metadata_->Migrate(AbTestStore::Migrations()));
    ASSERT_TRUE(metadata_->Migrate(security::AuditLog::Migrations()));
    tests_ = std::make_unique<AbTestStore>(*metadata_);
    audit_ = std::make_unique<security::AuditLog>(*metadata_);
    // Long intervals: the tests flush and evaluate explicitly.
    StartService(std::chrono::hours(1));
  }

  void StartService(std::chrono::milliseconds interval, registry::ModelRegistry* models = nullptr,
                    size_t max_pending = 1 << 20) {
    service_.reset();
    service_ = std::make_unique<AbTestService>(
        *tests_, models, audit_.get(), AbTestServiceOptions{interval, interval, max_pending});
    service_->SetTrafficControl(&traffic_);
    ASSERT_TRUE(service_->Start());
  }

  AbTest Definition(PolicyMode policy = PolicyMode::kManual) {
    AbTest test;
    test.project = "p";
    test.name = "colours";
    test.endpoint = "scoring";
    test.control = "blue";
    test.treatment = "green";
    test.metrics = {{"clicked", MetricKind::kConversion, MetricRole::kPrimary, true, 0},
                    {"revenue", MetricKind::kNumeric, MetricRole::kSecondary, true, 0}};
    test.minimum_detectable_effect = 0.5;
    test.policy = policy;
    return test;
  }

  void Predict(const std::string& arm, const std::string& unit, bool shadow = false,
               const std::string& endpoint = "scoring") {
    serving::PredictionRecord record;
    record.project = "p";
    record.endpoint = endpoint;
    record.arm = arm;
    record.unit_key = unit;
    record.request_id = "r" + std::to_string(++requests_);
    record.shadow = shadow;
    service_->OnPrediction(record);
  }

  void Outcome(const std::string& arm, const std::string& unit, const std::string& metric,
               double value, bool joined = true) {
    monitoring::OutcomeRecord outcome;
    outcome.project = "p";
    outcome.endpoint = "scoring";
    outcome.unit_key = unit;
    outcome.metric = metric;
    outcome.value = value;
    outcome.joined = joined;
    outcome.arm = joined ? arm : "";
    service_->OnOutcome(outcome);
  }

  // Units per arm, each seen once, converting at the given per-mille rates, spread evenly.
  void Feed(int64_t control_units, int64_t control_per_mille, int64_t treatment_units,
            int64_t treatment_per_mille) {
    for (int64_t i = 0; i < std::max(control_units, treatment_units); ++i) {
      if (i < control_units) {
        Predict("blue", "b" + std::to_string(i));
        Outcome("blue", "b" + std::to_string(i), "clicked",
                (i * control_per_mille) % 1000 < control_per_mille ? 1 : 0);
      }
      if (i < treatment_units) {
        Predict("green", "g" + std::to_string(i));
        Outcome("green", "g" + std::to_string(i), "clicked",
                (i * treatment_per_mille) % 1000 < treatment_per_mille ? 1 : 0);
      }
    }
  }

  ResultsReport Results() {
    auto report = service_->GetResults("p", "colours");
    EXPECT_TRUE(report) << report.error().message;
    return *report;
  }

  fs::path directory_;
  std::unique_ptr<storage::MetadataStore> metadata_;
  std::unique_ptr<AbTestStore> tests_;
  std::unique_ptr<security::AuditLog> audit_;
  std::unique_ptr<AbTestService> service_;
  FakeTraffic traffic_;
  int64_t requests_ = 0;
};

TEST_F(AbTestServiceTest, CountsDistinctUnitsAndRequestsIgnoringShadowsAndOtherArms) {
  ASSERT_TRUE(service_->Create(Definition()));
  Predict("blue", "u1");
  Predict("blue", "u1");
  Predict("blue", "u2");
  Predict("green", "u3");
  Predict("green", "u3", /*shadow=*/true);
  Predict("green", "u4", /*shadow=*/true);
  Predict("idle", "u5");
  Predict("green", "u6", false, "other-endpoint");
  Predict("green", "");  // no unit key: the request is its own unit
  ResultsReport report = Results();
  EXPECT_EQ(report.results.control_units, 2);
  EXPECT_EQ(report.results.control_requests, 3);
  EXPECT_EQ(report.results.treatment_units, 2);
  EXPECT_EQ(report.results.treatment_requests, 2);
}

TEST_F(AbTestServiceTest, ConversionsCountOncePerUnitAndNumericOutcomesEachTime) {
  ASSERT_TRUE(service_->Create(Definition()));
  Predict("blue", "u1");
  Predict("blue", "u2");
  Outcome("blue", "u1", "clicked", 1);
  Outcome("blue", "u1", "clicked", 1);
  Outcome("blue", "u2", "clicked", 0);
  Outcome("blue", "u2", "clicked", 1);  // "no click yet", then a click: u2 converts
  Outcome("blue", "u2", "clicked", 0);
  Outcome("blue", "u1", "revenue", 2.5);
  Outcome("blue", "u1", "revenue", 1.5);
  Outcome("blue", "u2", "revenue", 7, /*joined=*/false);  // no arm: ignored
  Outcome("blue", "u2", "unknown-metric", 1);
  ASSERT_TRUE(service_->Flush());
  auto test = service_->Get("p", "colours");
  ASSERT_TRUE(test);
  auto tally = tests_->LoadTally(*test);
  ASSERT_TRUE(tally);
  const ArmTally& blue = tally->at("blue");
  EXPECT_EQ(blue.units, 2);
  EXPECT_EQ(blue.metrics.at("clicked").conversions, 2);
  EXPECT_EQ(blue.metrics.at("clicked").n, 2);
  EXPECT_EQ(blue.metrics.at("revenue").n, 2);
  EXPECT_DOUBLE_EQ(blue.metrics.at("revenue").sum, 4);
  EXPECT_DOUBLE_EQ(blue.metrics.at("revenue").sum_squares, 2.5 * 2.5 + 1.5 * 1.5);
  EXPECT_FALSE(blue.metrics.contains("unknown-metric"));
}

TEST_F(AbTestServiceTest, AggregatesSurviveARestart) {
  ASSERT_TRUE(service_->Create(Definition()));
  Feed(40, 250, 30, 500);
  Predict("blue", "b0");  // a repeat visit: one more request, no new unit
  service_.reset();       // stops and writes what is buffered
  audit_.reset();
  tests_.reset();
  metadata_.reset();
  Open();
  Feed(40, 250, 30, 500);  // the same units again: nothing new but requests
  ResultsReport report = Results();
  EXPECT_EQ(report.results.control_units, 40);
  EXPECT_EQ(report.results.control_requests, 81);
  EXPECT_EQ(report.results.treatment_units, 30);
  EXPECT_EQ(report.results.metrics[0].control.conversions, 10);
  EXPECT_EQ(report.results.metrics[0].treatment.conversions, 15);
}

TEST_F(AbTestServiceTest, AutoPolicyPromotesAClearWinnerOnceTheMinimumSampleIsReached) {
  ASSERT_TRUE(service_->Create(Definition(PolicyMode::kAuto)));
  Feed(100, 100, 100, 200);  // favourable but far below the minimum sample
  ResultsReport early = Results();
  EXPECT_EQ(early.results.recommendation.action, "continue");
  EXPECT_FALSE(early.automatic_decision);
  Feed(3000, 100, 3000, 200);
  ResultsReport report = Results();
  ASSERT_TRUE(report.automatic_decision) << report.results.recommendation.reason;
  EXPECT_EQ(report.automatic_decision->action, "promote");
  EXPECT_EQ(report.test.status, TestStatus::kPromoted);
  EXPECT_EQ(traffic_.routed, std::vector<std::string>{"green"});
  auto decisions = service_->Decisions("p", "colours");
  ASSERT_TRUE(decisions);
  ASSERT_EQ(decisions->size(), 1u);
  EXPECT_TRUE(decisions->front().automatic);
  EXPECT_EQ(decisions->front().principal, "policy:auto");
  EXPECT_EQ(decisions->front().statistics["recommendation"]["action"], "promote");
}

TEST_F(AbTestServiceTest, TheBackgroundThreadDecidesAutomaticallyAndAuditsIt) {
  StartService(std::chrono::milliseconds(10));
  ASSERT_TRUE(service_->Create(Definition(PolicyMode::kAuto)));
  Feed(3000, 100, 3000, 200);  // nobody reads the results: the evaluator must act alone
  // The audit record is the decision's last step.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto records = audit_->Recent(10);
  while (std::chrono::steady_clock::now() < deadline && records && records->empty()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    records = audit_->Recent(10);
  }
  ASSERT_TRUE(records);
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(records->front().principal, "policy:auto");
  EXPECT_EQ(records->front().action, "abtests.write");
  EXPECT_EQ(records->front().resource, "/api/v1/projects/p/abtests/colours/decision#promote");
  EXPECT_EQ(service_->Get("p", "colours")->status, TestStatus::kPromoted);
  EXPECT_EQ(traffic_.routed, std::vector<std::string>{"green"});
}

TEST_F(AbTestServiceTest, AutoPolicyRollsBackALoser) {
  ASSERT_TRUE(service_->Create(Definition(PolicyMode::kAuto)));
  Feed(2000, 200, 2000, 100);
  ResultsReport report = Results();
  ASSERT_TRUE(report.automatic_decision);
  EXPECT_EQ(report.automatic_decision->action, "rollback");
  EXPECT_EQ(traffic_.routed, std::vector<std::string>{"blue"});
}

TEST_F(AbTestServiceTest, AutoPolicyRollsBackWhenAGuardrailIsHarmed) {
  AbTest test = Definition(PolicyMode::kAuto);
  test.metrics.push_back(
      {"latency_ok", MetricKind::kConversion, MetricRole::kGuardrail, true, 0.01});
  ASSERT_TRUE(service_->Create(test));
  Feed(3000, 100, 3000, 200);       // the primary metric wins …
  for (int i = 0; i < 3000; ++i) {  // … but 90 % against 50 % of requests are fast enough
    Outcome("blue", "b" + std::to_string(i), "latency_ok", i % 10 < 9 ? 1 : 0);
    Outcome("green", "g" + std::to_string(i), "latency_ok", i % 10 < 5 ? 1 : 0);
  }
  ResultsReport report = Results();
  ASSERT_TRUE(report.automatic_decision);
  EXPECT_EQ(report.automatic_decision->action, "rollback");
  EXPECT_NE(report.automatic_decision->reason.find("guardrail 'latency_ok'"), std::string::npos);
}

TEST_F(AbTestServiceTest, AutoPolicyStopsOnSampleRatioMismatch) {
  ASSERT_TRUE(service_->Create(Definition(PolicyMode::kAuto)));
  Feed(3000, 100, 2000, 200);  // configured 50/50, observed 60/40
  ResultsReport report = Results();
  ASSERT_TRUE(report.results.srm);
  EXPECT_TRUE(report.results.srm->mismatch);
  ASSERT_TRUE(report.automatic_decision);
  EXPECT_EQ(report.automatic_decision->action, "stop");
  EXPECT_EQ(report.test.status, TestStatus::kStopped);
  EXPECT_TRUE(traffic_.routed.empty());
}

TEST_F(AbTestServiceTest, ManualPolicyOnlyRecommends) {
  ASSERT_TRUE(service_->Create(Definition()));
  Feed(3000, 100, 3000, 200);
  ResultsReport report = Results();
  EXPECT_EQ(report.results.recommendation.action, "promote");
  EXPECT_FALSE(report.automatic_decision);
  EXPECT_EQ(report.test.status, TestStatus::kRunning);
}

TEST_F(AbTestServiceTest, AStoppedTestCountsNothingMore) {
  ASSERT_TRUE(service_->Create(Definition()));
  Feed(10, 100, 10, 100);
  auto stopped = service_->Decide("p", "colours", "stop", "enough", "key:alice");
  ASSERT_TRUE(stopped) << stopped.error().message;
  Feed(20, 100, 20, 100);
  ResultsReport report = Results();
  EXPECT_EQ(report.results.control_units, 10);
  EXPECT_EQ(report.test.status, TestStatus::kStopped);
}

TEST_F(AbTestServiceTest, ConcurrentDecisionsLetExactlyOneWin) {
  ASSERT_TRUE(service_->Create(Definition()));
  std::atomic<int> won{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto decided = service_->Decide("p", "colours", i % 2 ? "promote" : "rollback", "", "k");
      if (decided)
        ++won;
      else if (decided.error().code == ErrorCode::kFailedPrecondition)
        ++refused;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(won, 1);
  EXPECT_EQ(refused, 7);
  EXPECT_EQ(traffic_.routed.size(), 1u);
  auto decisions = service_->Decisions("p", "colours");
  ASSERT_TRUE(decisions);
  EXPECT_EQ(decisions->size(), 1u);
}

TEST_F(AbTestServiceTest, WithoutTrafficControlOnlyStopWorks) {
  service_->SetTrafficControl(nullptr);
  ASSERT_TRUE(service_->Create(Definition()));
  auto promoted = service_->Decide("p", "colours", "promote", "", "k");
  ASSERT_FALSE(promoted);
  EXPECT_EQ(promoted.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(promoted.error().message.find("no traffic control"), std::string::npos);
  EXPECT_TRUE(service_->Decide("p", "colours", "stop", "", "k"));
}

TEST_F(AbTestServiceTest, RefusesUnknownArmsArmsWithoutTrafficAndBadActions) {
  AbTest unknown = Definition();
  unknown.treatment = "purple";
  auto created = service_->Create(unknown);
  ASSERT_FALSE(created);
  EXPECT_NE(created.error().message.find("no arm 'purple' (its arms: blue, green, idle)"),
            std::string::npos);
  AbTest idle = Definition();
  idle.treatment = "idle";
  EXPECT_EQ(service_->Create(idle).error().code, ErrorCode::kFailedPrecondition);
  AbTest elsewhere = Definition();
  elsewhere.endpoint = "nowhere";
  EXPECT_EQ(service_->Create(elsewhere).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(service_->Create(Definition()));
  EXPECT_EQ(service_->Create(Definition()).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(service_->Decide("p", "colours", "launch", "", "k").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(service_->Decide("p", "missing", "stop", "", "k").error().code, ErrorCode::kNotFound);
}

TEST_F(AbTestServiceTest, ADeletedAndRecreatedTestStartsEmpty) {
  ASSERT_TRUE(service_->Create(Definition()));
  Feed(5, 0, 5, 0);
  ASSERT_TRUE(service_->Delete("p", "colours"));
  ASSERT_TRUE(service_->Create(Definition()));
  EXPECT_EQ(Results().results.control_units, 0);
}

TEST_F(AbTestServiceTest, ADecisionWhoseTrafficCannotMoveIsUndone) {
  ASSERT_TRUE(service_->Create(Definition()));
  traffic_.refuse = true;
  auto refused = service_->Decide("p", "colours", "promote", "", "k");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "the router is down");
  EXPECT_EQ(service_->Get("p", "colours")->status, TestStatus::kRunning);
  auto decisions = service_->Decisions("p", "colours");
  ASSERT_TRUE(decisions);
  ASSERT_EQ(decisions->size(), 1u);
  EXPECT_EQ(decisions->front().outcome, "traffic not moved: the router is down");
  Feed(3, 0, 3, 0);  // counting again
  EXPECT_EQ(Results().results.control_units, 3);
  traffic_.refuse = false;
  EXPECT_TRUE(service_->Decide("p", "colours", "promote", "", "k"));
}

TEST_F(AbTestServiceTest, PromotionMovesTheAliasToTheTreatmentsVersion) {
  ASSERT_TRUE(metadata_->Migrate(registry::ModelRegistry::Migrations()));
  auto key = security::SigningKey::Generate();
  ASSERT_TRUE(key);
  const std::string blob_uri = "file://" + (directory_ / "blobs").string();
  registry::ModelRegistry models(
      *metadata_, [&](std::string_view) { return storage::OpenBlobStore(blob_uri); }, *key);
  ASSERT_TRUE(models.CreateModel({"p", "ranker", "", {}, "k", 0, 0}));
  auto blobs = storage::OpenBlobStore(blob_uri);
  ASSERT_TRUE(blobs);
  for (const char* weights : {R"({"w": 1})", R"({"w": 2})"}) {
    auto digest = (*blobs)->Put(weights);
    ASSERT_TRUE(digest);
    registry::NewVersion version;
    version.format = "linear";
    version.files = {{"model.json", *digest, 0}};
    ASSERT_TRUE(models.RegisterVersion("p", "ranker", std::move(version)));
  }
  ASSERT_TRUE(models.SetAlias("p", "ranker", "champion", 1));
  StartService(std::chrono::hours(1), &models);
  service_->SetArmModels([](std::string_view, std::string_view, std::string_view arm) {
    return Result<std::optional<ArmModel>>(
        std::optional<ArmModel>(ArmModel{"ranker", arm == "green" ? 2 : 1}));
  });
  AbTest test = Definition();
  test.promote_alias = "champion";
  ASSERT_TRUE(service_->Create(test));
  auto promoted = service_->Decide("p", "colours", "promote", "wins", "k");
  ASSERT_TRUE(promoted) << promoted.error().message;
  EXPECT_EQ(promoted->outcome,
            "applied; alias 'champion' of model 'ranker' now points to version 2");
  EXPECT_EQ(models.ResolveAlias("p", "ranker", "champion").value_or(0), 2);
  EXPECT_EQ(traffic_.routed, std::vector<std::string>{"green"});
}

TEST_F(AbTestServiceTest, PromotionWithAnAliasNeedsToKnowTheTreatmentsVersion) {
  AbTest test = Definition();
  test.promote_alias = "champion";
  ASSERT_TRUE(service_->Create(test));
  auto refused = service_->Decide("p", "colours", "promote", "", "k");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message.find("cannot move alias 'champion'"), std::string::npos);
  EXPECT_EQ(service_->Get("p", "colours")->status, TestStatus::kRunning);
  EXPECT_TRUE(traffic_.routed.empty());
}

TEST_F(AbTestServiceTest, AFullBufferDropsAndCountsInsteadOfGrowing) {
  StartService(std::chrono::hours(1), nullptr, 10);
  ASSERT_TRUE(service_->Create(Definition()));
  Feed(20, 0, 0, 0);  // 40 events: a prediction and an outcome per unit
  EXPECT_EQ(service_->dropped_events(), 30);
  EXPECT_EQ(Results().results.control_units, 5);
}

}  // namespace
}  // namespace falaj::abtest
