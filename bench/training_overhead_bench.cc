// What our training path costs on top of XGBoost itself. The same in-memory data (100 000 rows ×
// 30 float features, a binary label) is trained for 100 rounds (depth 6, hist, every hardware
// thread) two ways:
//   DirectCApi:  the rows already as a row-major float matrix, the first 80 % DMatrix'ed as train
//                and the last 20 % as validation, UpdateOneIter + EvalOneIter per round, the
//                model saved as JSON — what a hand-written C API loop does (xgb.train with evals);
//   TrainerPath: the same rows as an Arrow table → PrepareData (column conversion, a random
//                80/20 split by seed) → FitXGBoost with a per-iteration callback → JSON.
// Both train on 80 000 rows and evaluate 20 000 per round. Repetitions alternate so machine load
// hits both alike; compare the medians (target: TrainerPath / DirectCApi ≤ 1.05).
//
//   build/bench/training_overhead_bench --benchmark_repetitions=3
#include <arrow/api.h>
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <limits>
#include <random>
#include <thread>

#include "training/trainer.h"

namespace falaj::training {
namespace {

constexpr int64_t kRows = 100000;
constexpr int kColumns = 30;
constexpr int kRounds = 100;

struct Data {
  std::vector<float> features;  // row-major
  std::vector<float> labels;
  std::shared_ptr<arrow::Table> table;
};

const Data& TheData() {
  static const Data* data = [] {
    auto* made = new Data;
    std::mt19937 random(7);
    std::normal_distribution<float> normal(0, 1);
    std::vector<arrow::DoubleBuilder> columns(kColumns);
    arrow::Int64Builder label;
    for (int64_t r = 0; r < kRows; ++r) {
      float score = 0;
      for (int c = 0; c < kColumns; ++c) {
        const float x = normal(random);
        made->features.push_back(x);
        (void)columns[c].Append(x);
        if (c < 5) score += x * (c % 2 ? -1.0f : 1.0f);
      }
      const float y = score + normal(random) > 0 ? 1.0f : 0.0f;
      made->labels.push_back(y);
      (void)label.Append(static_cast<int64_t>(y));
    }
    std::vector<std::shared_ptr<arrow::Field>> fields;
    std::vector<std::shared_ptr<arrow::Array>> arrays(kColumns + 1);
    for (int c = 0; c < kColumns; ++c) {
      fields.push_back(arrow::field("f" + std::to_string(c), arrow::float64()));
      (void)columns[c].Finish(&arrays[c]);
    }
    fields.push_back(arrow::field("label", arrow::int64()));
    (void)label.Finish(&arrays[kColumns]);
    made->table = arrow::Table::Make(arrow::schema(fields), arrays);
    return made;
  }();
  return *data;
}

const std::map<std::string, std::string> kParams = {
    {"max_depth", "6"}, {"eta", "0.1"}, {"tree_method", "hist"}, {"seed", "1"}};

// CPU seconds of the whole process (every OpenMP worker), which on a loaded machine measures
// the work better than wall time; Google Benchmark's own CPU time counts the main thread only.
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

int AllThreads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

void DirectCApi(benchmark::State& state) {
  const Data& data = TheData();
  const int threads = static_cast<int>(state.range(0));
  const size_t train_rows = kRows * 8 / 10;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    DMatrixHandle matrices[2];
    XGDMatrixCreateFromMat_omp(data.features.data(), train_rows, kColumns, nan, &matrices[0],
                               threads);
    XGDMatrixSetFloatInfo(matrices[0], "label", data.labels.data(), train_rows);
    XGDMatrixCreateFromMat_omp(data.features.data() + train_rows * kColumns, kRows - train_rows,
                               kColumns, nan, &matrices[1], threads);
    XGDMatrixSetFloatInfo(matrices[1], "label", data.labels.data() + train_rows,
                          kRows - train_rows);
    BoosterHandle booster;
    XGBoosterCreate(matrices, 2, &booster);
    XGBoosterSetParam(booster, "objective", "binary:logistic");
    XGBoosterSetParam(booster, "eval_metric", "logloss");
    XGBoosterSetParam(booster, "nthread", std::to_string(threads).c_str());
    for (const auto& [key, value] : kParams) XGBoosterSetParam(booster, key.c_str(), value.c_str());
    const char* names[1] = {"valid"};
    double last = 0;
    for (int round = 0; round < kRounds; ++round) {
      XGBoosterUpdateOneIter(booster, round, matrices[0]);
      const char* answer = nullptr;
      XGBoosterEvalOneIter(booster, round, &matrices[1], names, 1, &answer);
      last = std::strtod(std::strrchr(answer, ':') + 1, nullptr);
    }
    bst_ulong length = 0;
    const char* json = nullptr;
    XGBoosterSaveModelToBuffer(booster, R"({"format": "json"})", &length, &json);
    benchmark::DoNotOptimize(length);
    state.counters["valid_logloss"] = last;
    XGBoosterFree(booster);
    XGDMatrixFree(matrices[0]);
    XGDMatrixFree(matrices[1]);
  }
  state.counters["process_cpu_s"] = ProcessCpuSeconds() - cpu_start;
}

// Every feature, binary label, a random 80/20 train/validation split.
PrepareOptions Options() {
  PrepareOptions options;
  options.label = "label";
  for (int c = 0; c < kColumns; ++c) options.features.push_back("f" + std::to_string(c));
  options.task = Task::kBinary;
  options.split = {SplitMethod::kRandom, 0.2, 0.0, 42, ""};
  return options;
}

void TrainerPath(benchmark::State& state) {
  const Data& data = TheData();
  const PrepareOptions options = Options();
  XGBoostConfig config;
  config.objective = "binary:logistic";
  config.params = kParams;
  config.num_boost_round = kRounds;
  config.nthread = static_cast<int>(state.range(0));
  const double cpu_start = ProcessCpuSeconds();
  for (auto _ : state) {
    auto prepared = PrepareData(*data.table, options);
    if (!prepared) {
      state.SkipWithError(prepared.error().message.c_str());
      return;
    }
    int calls = 0;
    auto fit = FitXGBoost(*prepared, config, [&](int, double) { return ++calls > 0; });
    if (!fit) {
      state.SkipWithError(fit.error().message.c_str());
      return;
    }
    benchmark::DoNotOptimize(fit->model_json.size());
    state.counters["valid_logloss"] = fit->validation_history.back();
  }
  state.counters["process_cpu_s"] = ProcessCpuSeconds() - cpu_start;
}

// The conversion and split alone: the part of TrainerPath a direct C API loop does not do.
void PrepareOnly(benchmark::State& state) {
  const Data& data = TheData();
  const PrepareOptions options = Options();
  for (auto _ : state) {
    auto prepared = PrepareData(*data.table, options);
    benchmark::DoNotOptimize(prepared->train.features.data());
  }
}
BENCHMARK(PrepareOnly)->Unit(benchmark::kMillisecond);

// Interleaved registrations: with --benchmark_repetitions, Google Benchmark runs all
// repetitions of one before the next, so pairs are registered alternately instead. One thread
// (stable on a shared machine) and every hardware thread (the trainer's default).
void Register() {
  for (int threads : {1, AllThreads()}) {
    for (int pair = 0; pair < 3; ++pair) {
      for (auto [name, function] :
           {std::pair{"DirectCApi", &DirectCApi}, std::pair{"TrainerPath", &TrainerPath}}) {
        benchmark::RegisterBenchmark(fmt::format("{}/run{}", name, pair).c_str(), function)
            ->Arg(threads)
            ->ArgName("threads")
            ->Iterations(1)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    }
  }
}

}  // namespace
}  // namespace falaj::training

int main(int argc, char** argv) {
  falaj::training::TheData();  // built before any timing
  falaj::training::Register();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
