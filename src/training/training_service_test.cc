// TrainingService end to end in process, on real stores (SQLite metadata, file blobs): tracked
// runs, registered versions with lineage, served predictions equal to the booster's, early
// stopping, multiclass and ranking, cancellation and bad specs.
#include "training/training_service.h"

#include <arrow/api.h>
#include <gtest/gtest.h>

#include <random>

#include "data/column_profile.h"
#include "serving/model_runtime.h"
#include "training/training_test_support.h"

namespace falaj::training {
namespace {

using nlohmann::json;

// x0..x3 uniform; binary label from a noisy linear score; a 3-class label; a relevance 0..3 per
// row in queries of 10; a timestamp increasing with the row.
std::shared_ptr<arrow::Table> MakeTable(int64_t n, uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_real_distribution<double> uniform(-1, 1);
  std::vector<arrow::DoubleBuilder> x(4);
  arrow::Int64Builder label, klass, relevance, query;
  arrow::TimestampBuilder ts(arrow::timestamp(arrow::TimeUnit::MICRO, "UTC"),
                             arrow::default_memory_pool());
  for (int64_t i = 0; i < n; ++i) {
    double v[4];
    for (int c = 0; c < 4; ++c) {
      v[c] = uniform(random);
      EXPECT_TRUE(x[c].Append(v[c]).ok());
    }
    const double score = 2 * v[0] - v[1] + 0.5 * v[2] * v[3] + 0.3 * uniform(random);
    EXPECT_TRUE(label.Append(score > 0 ? 1 : 0).ok());
    EXPECT_TRUE(klass.Append(score < -0.7 ? 0 : score < 0.7 ? 1 : 2).ok());
    EXPECT_TRUE(relevance.Append(std::clamp<int64_t>(static_cast<int64_t>(score + 2), 0, 3)).ok());
    EXPECT_TRUE(query.Append(i / 10).ok());
    EXPECT_TRUE(ts.Append(1'700'000'000'000'000 + i * 1'000'000).ok());
  }
  std::vector<std::shared_ptr<arrow::Array>> arrays(9);
  for (int c = 0; c < 4; ++c) EXPECT_TRUE(x[c].Finish(&arrays[c]).ok());
  EXPECT_TRUE(label.Finish(&arrays[4]).ok() && klass.Finish(&arrays[5]).ok() &&
              relevance.Finish(&arrays[6]).ok() && query.Finish(&arrays[7]).ok() &&
              ts.Finish(&arrays[8]).ok());
  auto schema = arrow::schema(
      {arrow::field("x0", arrow::float64()), arrow::field("x1", arrow::float64()),
       arrow::field("x2", arrow::float64()), arrow::field("x3", arrow::float64()),
       arrow::field("label", arrow::int64()), arrow::field("klass", arrow::int64()),
       arrow::field("relevance", arrow::int64()), arrow::field("query", arrow::int64()),
       arrow::field("event_timestamp", arrays[8]->type())});
  return arrow::Table::Make(schema, arrays);
}

// Cancels once `after` progress reports have arrived.
class CancellingContext : public TaskContext {
 public:
  explicit CancellingContext(int after) : after_(after) {}
  void ReportProgress(double, std::string_view) override { ++reports_; }
  void Log(std::string_view) override {}
  bool CancelRequested() const override { return reports_ > after_; }

 private:
  int after_;
  int reports_ = 0;
};

class TrainingServiceTest : public TrainingStoresTest {
 protected:
  void SetUp() override {
    TrainingStoresTest::SetUp();
    auto table = MakeTable(2000, 1);
    // Two versions, so "version 2" means the union of both.
    AddDataset("events", *table->Slice(0, 1000));
    AddDataset("events", *table->Slice(1000, 1000));
  }
  json Spec(json overrides) const {
    json spec = {{"data", {{"dataset", "events"}, {"version", 2}}},
                 {"label", "label"},
                 {"features", {"x0", "x1", "x2", "x3"}},
                 {"trainer", "xgboost"},
                 {"objective", "binary:logistic"},
                 {"params", {{"max_depth", 3}, {"eta", 0.3}}},
                 {"num_boost_round", 20}};
    spec.merge_patch(overrides);
    return spec;
  }
};

TEST_F(TrainingServiceTest, TrainsTracksAndRegistersWithLineage) {
  auto summary = service_->Run(
      "p", Spec({{"register", {{"model", "churn"}, {"alias", "champion"}}}}), context_);
  ASSERT_TRUE(summary) << summary.error().message;
  EXPECT_GT((*summary)["metrics"]["auc"].get<double>(), 0.9);
  EXPECT_EQ((*summary)["version"], 1);
  const std::string run_id = (*summary)["run_id"];
  auto run = tracking_->GetRun("p", run_id);
  ASSERT_TRUE(run) << run.error().message;
  EXPECT_EQ(run->info.status, "FINISHED");
  EXPECT_EQ(run->params.at("max_depth"), "3");
  EXPECT_EQ(run->params.at("split.method"), "time");  // the dataset has event_timestamp
  auto history = tracking_->MetricHistory("p", run_id, "valid_logloss", 1000, "");
  ASSERT_TRUE(history);
  EXPECT_EQ(history->metrics.size(), 20u);
  bool has_test_auc = false;
  for (const auto& metric : run->latest_metrics) has_test_auc |= metric.key == "test_auc";
  EXPECT_TRUE(has_test_auc);

  auto version = registry_->GetVersion("p", "churn", 1);
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(version->format, "xgboost");
  EXPECT_EQ(version->lineage["run_id"], run_id);
  EXPECT_EQ(version->lineage["dataset"], "events");
  EXPECT_EQ(version->lineage["version"], 2);
  EXPECT_EQ(version->lineage["library"], "libxgboost " + XGBoostLibraryVersion());
  EXPECT_EQ(version->lineage["spec_sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(*registry_->ResolveAlias("p", "churn", "champion"), 1);

  // The stored evaluation report and profile are readable JSON with what monitoring needs.
  auto blobs = storage::OpenBlobStore(blob_uri_);
  auto profile = (*blobs)->Get(version->tags.at("reference_profile_sha256"));
  ASSERT_TRUE(profile);
  auto parsed = data::ProfileFromJson(json::parse(*profile));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->columns.back().name, "prediction");
  EXPECT_EQ(parsed->row_count, 400);
  auto report = json::parse(*(*blobs)->Get(version->tags.at("evaluation_sha256")));
  EXPECT_EQ(report["calibration"].size(), 10u);

  // The same spec digests the same; a second run adds version 2.
  auto again = service_->Run("p", Spec({{"register", {{"model", "churn"}}}}), context_);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)["version"], 2);
}

TEST_F(TrainingServiceTest, TheTreesRuntimeServesTheSavedModelAsTheBoosterPredicts) {
  for (const char* objective : {"binary:logistic", "multi:softprob", "reg:squarederror"}) {
    json overrides = {{"objective", objective}};
    if (std::string(objective) == "multi:softprob") {
      overrides["num_class"] = 3;
      overrides["label"] = "klass";
    }
    auto prepared = service_->Prepare("p", Spec(overrides), context_);
    ASSERT_TRUE(prepared) << prepared.error().message;
    auto fit = FitXGBoost(prepared->data, XGBoostConfigOf(prepared->spec));
    ASSERT_TRUE(fit) << fit.error().message;
    auto model = serving::LoadModel("xgboost", "trees", fit->model_json);
    ASSERT_TRUE(model) << model.error().message;
    const DataSplit& test = prepared->data.test;
    std::vector<float> served(test.rows * (*model)->num_outputs());
    ASSERT_TRUE((*model)->Predict(test.features, test.rows, served));
    ASSERT_EQ(served.size(), fit->test_predictions.size()) << objective;
    for (size_t i = 0; i < served.size(); ++i) {
      EXPECT_NEAR(served[i], fit->test_predictions[i], 1e-6 * std::max(1.0f, std::fabs(served[i])))
          << objective << " " << i;
    }
  }
}

TEST_F(TrainingServiceTest, EarlyStoppingStopsAndKeepsTheBestIteration) {
  auto prepared = service_->Prepare(
      "p", Spec({{"params", {{"eta", 1.0}, {"max_depth", 6}}}, {"early_stopping_rounds", 3}}),
      context_);
  ASSERT_TRUE(prepared) << prepared.error().message;
  XGBoostConfig config = XGBoostConfigOf(prepared->spec);
  config.num_boost_round = 500;
  std::vector<double> seen;
  auto fit = FitXGBoost(prepared->data, config, [&](int iteration, double metric) {
    EXPECT_EQ(iteration, static_cast<int>(seen.size()));
    seen.push_back(metric);
    return true;
  });
  ASSERT_TRUE(fit) << fit.error().message;
  EXPECT_TRUE(fit->stopped_early);
  EXPECT_LT(fit->iterations_run, 500);
  EXPECT_EQ(fit->iterations_run, fit->best_iteration + 4);
  EXPECT_EQ(fit->metric_name, "logloss");
  EXPECT_FALSE(fit->higher_is_better);
  EXPECT_EQ(seen, fit->validation_history);
  for (double value : seen) EXPECT_GE(value, fit->best_validation_metric);
  // The saved model holds exactly the kept rounds.
  auto model = json::parse(fit->model_json);
  EXPECT_EQ(model["learner"]["gradient_booster"]["model"]["trees"].size(),
            static_cast<size_t>(fit->best_iteration + 1));
  // A callback returning false stops at once (the tuner's ASHA cut).
  auto cut =
      FitXGBoost(prepared->data, config, [](int iteration, double) { return iteration < 4; });
  ASSERT_TRUE(cut);
  EXPECT_TRUE(cut->stopped_by_callback);
  EXPECT_EQ(cut->iterations_run, 5);
}

TEST_F(TrainingServiceTest, MulticlassRankingAndLinearRun) {
  auto multi = service_->Run(
      "p", Spec({{"label", "klass"}, {"objective", "multi:softprob"}, {"num_class", 3}}), context_);
  ASSERT_TRUE(multi) << multi.error().message;
  EXPECT_GT((*multi)["metrics"]["accuracy"].get<double>(), 0.7);
  EXPECT_LT((*multi)["metrics"]["logloss"].get<double>(), 0.8);

  auto ranking = service_->Run("p",
                               Spec({{"label", "relevance"},
                                     {"objective", "rank:ndcg"},
                                     {"group", "query"},
                                     {"metrics", {"ndcg@5"}}}),
                               context_);
  ASSERT_TRUE(ranking) << ranking.error().message;
  EXPECT_GT((*ranking)["metrics"]["ndcg@5"].get<double>(), 0.8);

  json linear = Spec({{"trainer", "logistic"}, {"register", {{"model", "baseline"}}}});
  linear.erase("objective");
  linear.erase("num_boost_round");
  linear["params"] = {{"l2", 0.001}};
  auto logistic = service_->Run("p", linear, context_);
  ASSERT_TRUE(logistic) << logistic.error().message;
  EXPECT_GT((*logistic)["metrics"]["auc"].get<double>(), 0.9);
  auto version = registry_->GetVersion("p", "baseline", 1);
  ASSERT_TRUE(version);
  EXPECT_EQ(version->format, "linear");
  auto blobs = storage::OpenBlobStore(blob_uri_);
  auto artifact = (*blobs)->Get(version->files[0].sha256);
  ASSERT_TRUE(artifact);
  EXPECT_TRUE(serving::LoadModel("linear", "", *artifact));
}

TEST_F(TrainingServiceTest, CancellationStopsTheRunAndMarksItKilled) {
  CancellingContext context(5);
  auto summary = service_->Run("p", Spec({{"num_boost_round", 200}}), context);
  ASSERT_FALSE(summary);
  EXPECT_EQ(summary.error().code, ErrorCode::kCancelled);
  auto experiment = tracking_->GetExperimentByName("p", "training");
  ASSERT_TRUE(experiment);
  tracking::RunSearch search;
  search.experiment_ids = {experiment->experiment_id};
  auto runs = tracking_->SearchRuns("p", search);
  ASSERT_TRUE(runs);
  ASSERT_EQ(runs->runs.size(), 1u);
  EXPECT_EQ(runs->runs[0].info.status, "KILLED");
  auto history =
      tracking_->MetricHistory("p", runs->runs[0].info.run_id, "valid_logloss", 1000, "");
  ASSERT_TRUE(history);
  EXPECT_TRUE(history->metrics.empty());
}

TEST_F(TrainingServiceTest, AFailedFitMarksTheRunFailed) {
  arrow::DoubleBuilder a, y;
  ASSERT_TRUE(a.AppendValues({1, 2, 3, 4, 5, 6, 7, 8, 9, 10}).ok() && a.AppendNull().ok());
  ASSERT_TRUE(y.AppendValues({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}).ok());
  auto table = arrow::Table::Make(
      arrow::schema({arrow::field("a", arrow::float64()), arrow::field("y", arrow::float64())}),
      {a.Finish().ValueOrDie(), y.Finish().ValueOrDie()});
  AddDataset("gappy", *table);
  const json spec = {{"data", {{"dataset", "gappy"}}},
                     {"label", "y"},
                     {"trainer", "linear"},
                     {"experiment", "gaps"},
                     {"split", {{"validation_fraction", 0}, {"test_fraction", 0}}}};
  auto summary = service_->Run("p", spec, context_);
  ASSERT_FALSE(summary);
  EXPECT_EQ(summary.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(summary.error().message.find("missing"), std::string::npos) << summary.error().message;
  auto experiment = tracking_->GetExperimentByName("p", "gaps");
  ASSERT_TRUE(experiment);
  tracking::RunSearch search;
  search.experiment_ids = {experiment->experiment_id};
  auto runs = tracking_->SearchRuns("p", search);
  ASSERT_TRUE(runs && runs->runs.size() == 1u);
  EXPECT_EQ(runs->runs[0].info.status, "FAILED");
  EXPECT_EQ(runs->runs[0].params.at("features"), R"(["a"])");
}

TEST_F(TrainingServiceTest, BadSpecsAreRefusedNamingTheField) {
  const std::pair<json, std::string_view> cases[] = {
      {{{"trainer", "forest"}}, "trainer"},
      {{{"objective", "binary:hinge"}}, "objective"},
      {{{"params", {{"max_depht", 3}}}}, "params.max_depht"},
      {{{"params", {{"eta", -1}}}}, "params.eta"},
      {{{"params", {{"subsample", "lots"}}}}, "params.subsample"},
      {{{"params", {{"objective", "reg:squarederror"}}}}, "params.objective"},
      {{{"split", {{"method", "sideways"}}}}, "split.method"},
      {{{"split", {{"test_fraction", 0.6}, {"validation_fraction", 0.5}}}}, "split.test_fraction"},
      {{{"split", {{"seeds", 1}}}}, "split.seeds"},
      {{{"label", nullptr}}, "label"},
      {{{"data", {{"dataset", "events"}, {"version", -1}}}}, "data.version"},
      {{{"num_boost_round", 0}}, "num_boost_round"},
      {{{"objective", "multi:softprob"}}, "num_class"},
      {{{"objective", "rank:pairwise"}}, "group"},
      {{{"metrics", {"auc", "rmse"}}}, "metrics[1]"},
      {{{"register", {{"model", "bad name"}}}}, "register.model"},
      {{{"colour", "red"}}, "colour"},
      {{{"features", {"x0", "nope"}}}, "'nope'"},
      {{{"features", {"x0", "x1", "x0"}}}, "features[2]"},
      {{{"split", {{"validation_fraction", 0}}}, {"early_stopping_rounds", 2}},
       "early_stopping_rounds"},
  };
  for (const auto& [overrides, needle] : cases) {
    auto summary = service_->Run("p", Spec(overrides), context_);
    ASSERT_FALSE(summary) << overrides.dump();
    EXPECT_EQ(summary.error().code, ErrorCode::kInvalidArgument) << overrides.dump();
    EXPECT_NE(summary.error().message.find(needle), std::string::npos)
        << overrides.dump() << ": " << summary.error().message;
  }
  auto yaml = ParseTrainingSpecText(
      "data: {dataset: events}\nlabel: label\ntrainer: xgboost\nobjective: binary:logistic\n");
  ASSERT_TRUE(yaml) << yaml.error().message;
  EXPECT_EQ(yaml->num_boost_round, 100);
}

}  // namespace
}  // namespace falaj::training
