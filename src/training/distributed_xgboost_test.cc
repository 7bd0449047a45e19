// Distributed XGBoost on XGBoost's collective, for real: 3 worker processes on this machine
// train on sklearn's breast cancer data (written by the .venv python), and the results are
// compared with Python xgboost's own predictions of the same model and with a single-process fit.
#include "training/distributed_xgboost.h"

#include <arrow/api.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "serving/model_runtime.h"
#include "training/evaluation.h"
#include "training/training_spec.h"
#include "training/training_test_support.h"

namespace falaj::training {
namespace {

namespace fs = std::filesystem;

fs::path TestDir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("falaj_distributed_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Removes every TestDir of this process when the tests end.
class RemoveTestDirs : public ::testing::Environment {
 public:
  void TearDown() override {
    const std::string prefix = "falaj_distributed_" + std::to_string(::getpid()) + "_";
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator(fs::temp_directory_path(), ignored)) {
      if (entry.path().filename().string().rfind(prefix, 0) == 0) {
        fs::remove_all(entry.path(), ignored);
      }
    }
  }
};
[[maybe_unused]] ::testing::Environment* const kRemoveTestDirs =
    ::testing::AddGlobalTestEnvironment(new RemoveTestDirs);

int RunPython(const std::string& code) {
  const fs::path script = TestDir("py") / "script.py";
  std::ofstream(script) << code;
  return std::system((std::string(FALAJ_TEST_PYTHON) + " " + script.string()).c_str());
}

std::vector<std::vector<double>> ReadCsv(const fs::path& path) {
  std::vector<std::vector<double>> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::vector<double> row;
    std::stringstream fields(line);
    for (std::string field; std::getline(fields, field, ',');) row.push_back(std::stod(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

void Append(DataSplit& split, const std::vector<double>& row) {
  split.columns = row.size() - 1;
  for (size_t c = 0; c + 1 < row.size(); ++c) split.features.push_back(static_cast<float>(row[c]));
  split.labels.push_back(static_cast<float>(row.back()));
  ++split.rows;
}

// Breast cancer (569 rows, 30 features, binary): every 5th row (offset 3) validation, offset 4
// test, the rest training.
const PreparedData& BreastCancer() {
  static const PreparedData data = [] {
    const fs::path csv = TestDir("data") / "breast_cancer.csv";
    EXPECT_EQ(RunPython("import numpy as np\n"
                        "from sklearn.datasets import load_breast_cancer\n"
                        "x, y = load_breast_cancer(return_X_y=True)\n"
                        "np.savetxt('" +
                        csv.string() + "', np.column_stack([x, y]), delimiter=',', fmt='%.9g')\n"),
              0);
    PreparedData prepared;
    prepared.task = Task::kBinary;
    const auto rows = ReadCsv(csv);
    EXPECT_EQ(rows.size(), 569u);
    for (size_t i = 0; i < rows.size(); ++i) {
      Append(i % 5 == 3   ? prepared.validation
             : i % 5 == 4 ? prepared.test
                          : prepared.train,
             rows[i]);
    }
    return prepared;
  }();
  return data;
}

XGBoostConfig HistConfig() {
  XGBoostConfig config;
  config.objective = "binary:logistic";
  config.params = {{"tree_method", "hist"},
                   {"max_depth", "3"},
                   {"eta", "0.3"},
                   {"eval_metric", "auc"},
                   {"max_bin", "64"}};
  config.num_boost_round = 40;
  config.early_stopping_rounds = 5;
  config.nthread = 1;
  return config;
}

DistributedOptions Options() {
  DistributedOptions options;
  options.python = FALAJ_TEST_PYTHON;
  return options;
}

// Keeps the log; cancels once `cancel_after` iterations were reported (0: never).
class RecordingContext : public TaskContext {
 public:
  void ReportProgress(double, std::string_view) override {}
  void Log(std::string_view line) override {
    std::lock_guard lock(mutex_);
    lines_.emplace_back(line);
  }
  bool CancelRequested() const override { return cancelled_.load(); }
  void Cancel() { cancelled_ = true; }
  std::vector<std::string> lines() const {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> lines_;
  std::atomic<bool> cancelled_{false};
};

bool Running(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;  // gone
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

TEST(DistributedSpec, ParsesAndValidatesWorkers) {
  nlohmann::json spec = {{"data", {{"dataset", "d"}}},
                         {"label", "y"},
                         {"trainer", "xgboost"},
                         {"objective", "binary:logistic"},
                         {"distributed", {{"workers", 3}}}};
  auto parsed = ParseTrainingSpec(spec);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->distributed_workers, 3);
  spec.erase("distributed");
  EXPECT_EQ(ParseTrainingSpec(spec)->distributed_workers, 0);
  for (const auto& [bad, field] : std::vector<std::pair<nlohmann::json, std::string>>{
           {{{"workers", 1}}, "distributed.workers"},
           {{{"workers", 65}}, "distributed.workers"},
           {{{"workers", "3"}}, "distributed.workers"},
           {nlohmann::json::object(), "distributed.workers"},
           {{{"workers", 2}, {"hosts", 2}}, "distributed.hosts"},
           {3, "distributed"}}) {
    spec["distributed"] = bad;
    auto result = ParseTrainingSpec(spec);
    ASSERT_FALSE(result) << bad.dump();
    EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(result.error().message.rfind(field + ":", 0), 0u) << result.error().message;
  }
  spec["distributed"] = {{"workers", 2}};
  spec["trainer"] = "linear";
  spec.erase("objective");
  auto linear = ParseTrainingSpec(spec);
  ASSERT_FALSE(linear);
  EXPECT_NE(linear.error().message.find("distributed"), std::string::npos);
}

TEST(DistributedXGBoost, ThreeWorkersMatchPythonAndSingleProcess) {
  const PreparedData& data = BreastCancer();
  ASSERT_EQ(data.train.rows, 342u);
  const fs::path dir = TestDir("fit");
  DistributedOptions options = Options();
  options.work_dir = (dir / "work").string();
  int callbacks = 0;
  options.callback = [&](int iteration, double value) {
    EXPECT_EQ(iteration, callbacks);
    EXPECT_TRUE(value > 0.5 && value <= 1.0) << value;
    ++callbacks;
    return true;
  };
  RecordingContext context;
  auto result = FitXGBoostDistributed(data, HistConfig(), 3, options, context);
  ASSERT_TRUE(result) << result.error().message;
  const FitResult& fit = result->fit;

  // Every worker took part: three ranks, each with a shard, summing to the training rows.
  ASSERT_EQ(result->worker_rows.size(), 3u);
  int64_t total = 0;
  for (int64_t rows : result->worker_rows) {
    EXPECT_GT(rows, 100);
    total += rows;
  }
  EXPECT_EQ(total, static_cast<int64_t>(data.train.rows));
  EXPECT_EQ(result->engine.rfind("xgboost 3.", 0), 0u) << result->engine;

  EXPECT_EQ(fit.metric_name, "auc");
  EXPECT_TRUE(fit.higher_is_better);
  EXPECT_EQ(callbacks, fit.iterations_run);
  EXPECT_EQ(fit.validation_history.size(), static_cast<size_t>(fit.iterations_run));
  ASSERT_GE(fit.best_iteration, 0);
  ASSERT_LT(fit.best_iteration, fit.iterations_run);
  EXPECT_DOUBLE_EQ(fit.best_validation_metric, fit.validation_history[fit.best_iteration]);
  if (fit.stopped_early) {
    EXPECT_EQ(fit.iterations_run, fit.best_iteration + 6);
  }

  // The model loads, and Falaj's test predictions are Python xgboost's predict of the same JSON.
  auto model = serving::LoadTreesModel(fit.model_json);
  ASSERT_TRUE(model) << model.error().message;
  ASSERT_EQ(fit.test_predictions.size(), data.test.rows);
  std::ofstream(dir / "model.json") << fit.model_json;
  ASSERT_TRUE(WriteNpyFloat32((dir / "test_x.npy").string(), data.test.features.data(),
                              data.test.rows, data.test.columns));
  ASSERT_EQ(RunPython("import numpy as np, xgboost as xgb\n"
                      "b = xgb.Booster(model_file='" +
                      (dir / "model.json").string() +
                      "')\n"
                      "assert b.num_boosted_rounds() == " +
                      std::to_string(fit.best_iteration + 1) +
                      "\n"
                      "p = b.predict(xgb.DMatrix(np.load('" +
                      (dir / "test_x.npy").string() +
                      "'), missing=np.nan))\n"
                      "np.savetxt('" +
                      (dir / "python.csv").string() + "', p, fmt='%.9g')\n"),
            0);
  const auto reference = ReadCsv(dir / "python.csv");
  ASSERT_EQ(reference.size(), data.test.rows);
  for (size_t i = 0; i < reference.size(); ++i) {
    EXPECT_NEAR(fit.test_predictions[i], reference[i][0], 1e-6) << "row " << i;
  }

  // Close to a single-process hist fit with the same parameters. Not identical: each worker
  // sketches quantiles of its own shard and XGBoost merges the sketches, so the histogram bin
  // edges (and from them the splits) differ slightly. On 114 test rows of an easy problem both
  // reach AUC > 0.97; 0.02 allows a couple of reordered pairs, not a broken fit.
  auto single = FitXGBoost(data, HistConfig());
  ASSERT_TRUE(single) << single.error().message;
  const double distributed_auc = Auc(fit.test_predictions, data.test.labels);
  const double single_auc = Auc(single->test_predictions, data.test.labels);
  EXPECT_GT(distributed_auc, 0.97);
  EXPECT_GT(single_auc, 0.97);
  EXPECT_NEAR(distributed_auc, single_auc, 0.02);
}

TEST(DistributedXGBoost, CallbackStopsEveryWorkerCleanly) {
  DistributedOptions options = Options();
  options.callback = [](int iteration, double) { return iteration < 2; };
  XGBoostConfig config = HistConfig();
  config.early_stopping_rounds = 0;
  RecordingContext context;
  auto result = FitXGBoostDistributed(BreastCancer(), config, 2, options, context);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->fit.stopped_by_callback);
  // Rank 0 may start round 3 (or a few more) before the stop request reaches it: the callback
  // and the workers run concurrently. It must stop well before the 40 rounds asked for.
  EXPECT_GE(result->fit.iterations_run, 3);
  EXPECT_LT(result->fit.iterations_run, 40);
  EXPECT_EQ(result->fit.validation_history.size(), static_cast<size_t>(result->fit.iterations_run));
  EXPECT_FALSE(result->fit.model_json.empty());
}

TEST(DistributedXGBoost, CrashedWorkerFailsNamingItsRank) {
  DistributedOptions options = Options();
  options.extra_env = {"FALAJ_COLLECTIVE_TEST_CRASH_RANK=1"};
  RecordingContext context;
  auto result = FitXGBoostDistributed(BreastCancer(), HistConfig(), 3, options, context);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kInternal);
  EXPECT_NE(result.error().message.find("worker rank 1 failed (exit code 3)"), std::string::npos)
      << result.error().message;
}

TEST(DistributedXGBoost, CancellationKillsEveryWorker) {
  DistributedOptions options = Options();
  RecordingContext context;
  options.callback = [&](int iteration, double) {
    if (iteration == 1) context.Cancel();
    return true;  // only the context cancels: the launcher's group is killed
  };
  XGBoostConfig config = HistConfig();
  config.early_stopping_rounds = 0;
  config.num_boost_round = 100000;
  config.params["eta"] = "0.001";
  auto result = FitXGBoostDistributed(BreastCancer(), config, 3, options, context);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kCancelled) << result.error().message;
  std::vector<pid_t> pids;
  for (const auto& line : context.lines()) {
    auto message = nlohmann::json::parse(line, nullptr, false);
    if (message.is_object() && message.contains("pid")) pids.push_back(message["pid"].get<int>());
  }
  ASSERT_EQ(pids.size(), 3u);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (pid_t pid : pids) {
    while (Running(pid) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_FALSE(Running(pid)) << "worker " << pid << " outlived the cancelled fit";
  }
}

TEST(DistributedXGBoost, RefusesBadRequests) {
  RecordingContext context;
  auto one = FitXGBoostDistributed(BreastCancer(), HistConfig(), 1, Options(), context);
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().code, ErrorCode::kInvalidArgument);
  DistributedOptions missing = Options();
  missing.script = "/nonexistent/xgboost_collective.py";
  auto no_script = FitXGBoostDistributed(BreastCancer(), HistConfig(), 2, missing, context);
  ASSERT_FALSE(no_script);
  EXPECT_EQ(no_script.error().code, ErrorCode::kFailedPrecondition);
  DistributedOptions no_python = Options();
  no_python.python = "/nonexistent/python3";
  auto bad_python = FitXGBoostDistributed(BreastCancer(), HistConfig(), 2, no_python, context);
  ASSERT_FALSE(bad_python);
  EXPECT_EQ(bad_python.error().code, ErrorCode::kFailedPrecondition) << bad_python.error().message;
  // Ranking: shards end on group boundaries; more workers than groups is refused.
  PreparedData ranking = BreastCancer();
  ranking.train.group_sizes = {200, 142};
  auto too_many = FitXGBoostDistributed(ranking, HistConfig(), 3, Options(), context);
  ASSERT_FALSE(too_many);
  EXPECT_NE(too_many.error().message.find("query groups"), std::string::npos);
}

// Breast cancer as a dataset: f0..f29, label, and a query id per 10 rows (for ranking).
std::shared_ptr<arrow::Table> BreastCancerTable() {
  const PreparedData& data = BreastCancer();
  std::vector<arrow::DoubleBuilder> columns(30);
  arrow::Int64Builder label, query;
  int64_t row = 0;
  for (const DataSplit* split : {&data.train, &data.validation, &data.test}) {
    for (size_t r = 0; r < split->rows; ++r, ++row) {
      for (size_t c = 0; c < 30; ++c) {
        EXPECT_TRUE(columns[c].Append(split->features[r * split->columns + c]).ok());
      }
      EXPECT_TRUE(label.Append(static_cast<int64_t>(split->labels[r])).ok());
      EXPECT_TRUE(query.Append(row / 10).ok());
    }
  }
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::vector<std::shared_ptr<arrow::Array>> arrays(32);
  for (size_t c = 0; c < 30; ++c) {
    fields.push_back(arrow::field("f" + std::to_string(c), arrow::float64()));
    EXPECT_TRUE(columns[c].Finish(&arrays[c]).ok());
  }
  fields.push_back(arrow::field("label", arrow::int64()));
  fields.push_back(arrow::field("query", arrow::int64()));
  EXPECT_TRUE(label.Finish(&arrays[30]).ok() && query.Finish(&arrays[31]).ok());
  return arrow::Table::Make(arrow::schema(fields), arrays);
}

class DistributedTrainingServiceTest : public TrainingStoresTest {};

TEST_F(DistributedTrainingServiceTest, RunsTracksAndRegistersWithDistributedLineage) {
  AddDataset("cancer", *BreastCancerTable());
  service_->SetDistributedRuntime({FALAJ_TEST_PYTHON, ""});
  std::vector<std::string> features;
  for (int c = 0; c < 30; ++c) features.push_back("f" + std::to_string(c));
  nlohmann::json spec = {{"data", {{"dataset", "cancer"}}},
                         {"label", "label"},
                         {"features", features},
                         {"trainer", "xgboost"},
                         {"objective", "binary:logistic"},
                         {"params", {{"max_depth", 3}, {"tree_method", "hist"}}},
                         {"num_boost_round", 15},
                         {"distributed", {{"workers", 2}}},
                         {"register", {{"model", "cancer"}}}};
  NullTaskContext context;
  auto summary = service_->Run("p", spec, context);
  ASSERT_TRUE(summary) << summary.error().message;
  ASSERT_TRUE((*summary)["metrics"]["auc"].is_number()) << summary->dump();
  EXPECT_GT((*summary)["metrics"]["auc"].get<double>(), 0.95);
  EXPECT_EQ((*summary)["iterations"], 15);
  auto history = tracking_->MetricHistory("p", (*summary)["run_id"].get<std::string>(),
                                          "valid_logloss", 1000, "");
  ASSERT_TRUE(history);
  EXPECT_EQ(history->metrics.size(), 15u);
  auto version = registry_->GetVersion("p", "cancer", 1);
  ASSERT_TRUE(version) << version.error().message;
  EXPECT_EQ(version->lineage["distributed"]["workers"], 2);
  const std::string engine = version->lineage["distributed"]["engine"];
  EXPECT_EQ(engine.rfind("xgboost 3.", 0), 0u) << engine;
  EXPECT_EQ(version->lineage["library"], engine);

  // Ranking: query groups reach the workers whole (a split group would fail in XGBoost).
  spec["objective"] = "rank:pairwise";
  spec["group"] = "query";
  spec["distributed"]["workers"] = 3;
  spec.erase("register");
  spec.erase("metrics");
  auto ranking = service_->Run("p", spec, context);
  ASSERT_TRUE(ranking) << ranking.error().message;
  ASSERT_TRUE((*ranking)["metrics"]["ndcg@10"].is_number()) << ranking->dump();
  EXPECT_GT((*ranking)["metrics"]["ndcg@10"].get<double>(), 0.8) << ranking->dump();
}

}  // namespace
}  // namespace falaj::training
