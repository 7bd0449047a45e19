// In-process prediction throughput on the benchmark model (binary:logistic, 100 trees of depth
// 6, 30 features; bench/models/make_models.py): our `trees` runtime against XGBoost's C API
// predicting in place (libxgboost 1.7, one thread), each at batch 1 and batch 1000, cycling
// through the model's 2000 rows. Before timing, each one's outputs are checked against XGBoost's
// recorded predictions (1e-6). Compare with bench/trees_peers.py run in the same session.
//
//   .venv/bin/python bench/models/make_models.py build/bench/models
//   FALAJ_BENCH_MODELS=build/bench/models build/bench/trees_bench
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <xgboost/c_api.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "serving/model_runtime.h"
#include "serving/xgboost_model_reader.h"

namespace falaj::serving {
namespace {

constexpr size_t kFeatures = 30;

std::string ModelDir() {
  const char* dir = std::getenv("FALAJ_BENCH_MODELS");
  return dir != nullptr ? dir : FALAJ_BENCH_MODELS_DEFAULT;
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// A little-endian float32, C-order .npy array (what make_models.py writes), flattened.
std::optional<std::vector<float>> ReadNpy(const std::string& path) {
  const auto bytes = ReadFile(path);
  if (!bytes || bytes->size() < 10 || bytes->compare(0, 6, "\x93NUMPY") != 0) return std::nullopt;
  const bool v1 = (*bytes)[6] == 1;
  const size_t length_bytes = v1 ? 2 : 4;
  size_t header_length = 0;
  for (size_t i = 0; i < length_bytes; ++i) {
    header_length |= static_cast<size_t>(static_cast<uint8_t>((*bytes)[8 + i])) << (8 * i);
  }
  const size_t data = 8 + length_bytes + header_length;
  const std::string header = bytes->substr(8 + length_bytes, header_length);
  if (data > bytes->size() || header.find("'<f4'") == std::string::npos ||
      header.find("'fortran_order': False") == std::string::npos) {
    return std::nullopt;
  }
  std::vector<float> values((bytes->size() - data) / sizeof(float));
  std::memcpy(values.data(), bytes->data() + data, values.size() * sizeof(float));
  return values;
}

struct Workload {
  std::string model;
  std::vector<float> rows;
  std::vector<float> expected;
  std::string error;
};

const Workload& GetWorkload() {
  static const Workload workload = [] {
    Workload w;
    const std::string dir = ModelDir();
    auto model = ReadFile(dir + "/benchmark.json");
    auto rows = ReadNpy(dir + "/benchmark.rows.npy");
    auto expected = ReadNpy(dir + "/benchmark.expected.npy");
    if (!model || !rows || !expected || rows->size() != expected->size() * kFeatures) {
      w.error = "no benchmark model in " + dir + "; run bench/models/make_models.py " + dir;
      return w;
    }
    w.model = std::move(*model);
    w.rows = std::move(*rows);
    w.expected = std::move(*expected);
    return w;
  }();
  return workload;
}

size_t RowCount() { return GetWorkload().expected.size(); }

bool Matches(const std::vector<float>& outputs) {
  const auto& expected = GetWorkload().expected;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (!(std::fabs(outputs[i] - expected[i]) <= 1e-6f)) return false;
  }
  return true;
}

// Runs `predict(first_row, rows, out)` over batches cycling through the rows.
template <typename Predict>
void Run(benchmark::State& state, Predict&& predict) {
  const auto batch = static_cast<size_t>(state.range(0));
  std::vector<float> out(batch);
  size_t first = 0;
  for (auto _ : state) {
    if (first + batch > RowCount()) first = 0;
    if (!predict(first, batch, out.data())) {
      state.SkipWithError("prediction failed");
      return;
    }
    benchmark::DoNotOptimize(out.data());
    first += batch;
  }
  state.counters["rows_per_second"] = benchmark::Counter(
      static_cast<double>(state.iterations() * batch), benchmark::Counter::kIsRate);
}

void BM_Trees(benchmark::State& state) {
  const Workload& workload = GetWorkload();
  if (!workload.error.empty()) return state.SkipWithError(workload.error.c_str());
  static const auto model = LoadModel("xgboost", "trees", workload.model);
  if (!model) return state.SkipWithError(model.error().message.c_str());
  const LoadedModel& trees = **model;
  static const bool matches = [&] {
    std::vector<float> all(RowCount());
    return trees.Predict(workload.rows, RowCount(), all).has_value() && Matches(all);
  }();
  if (!matches) return state.SkipWithError("trees outputs differ from XGBoost's");
  Run(state, [&](size_t first, size_t rows, float* out) {
    const auto features = std::span(workload.rows).subspan(first * kFeatures, rows * kFeatures);
    return trees.Predict(features, rows, std::span(out, rows)).has_value();
  });
}

// The library directly (no runtime around it), set up as the xgboost runtime sets it up.
struct Library {
  BoosterHandle handle = nullptr;
  std::string error;
};

bool LibraryPredict(BoosterHandle handle, const float* rows, size_t count, float* out) {
  const std::string array =
      fmt::format(R"({{"data": [{}, true], "shape": [{}, {}], "typestr": "<f4", "version": 3}})",
                  reinterpret_cast<uintptr_t>(rows), count, kFeatures);
  const bst_ulong* shape = nullptr;
  bst_ulong dimensions = 0;
  const float* result = nullptr;
  if (XGBoosterPredictFromDense(handle, array.c_str(),
                                R"({"type": 0, "training": false, "iteration_begin": 0, )"
                                R"("iteration_end": 0, "strict_shape": false, "missing": NaN, )"
                                R"("cache_id": 0})",
                                nullptr, &shape, &dimensions, &result) != 0) {
    return false;
  }
  std::memcpy(out, result, count * sizeof(float));
  return true;
}

const Library& GetLibrary() {
  static const Library library = [] {
    Library lib;
    const Workload& workload = GetWorkload();
    auto model = ReadXGBoostModel(workload.model);
    if (!model) return Library{nullptr, model.error().message};
    XGBoosterCreate(nullptr, 0, &lib.handle);
    // 1.7 ignores XGBoost 3's vector base_score; set it as the xgboost runtime does.
    const std::string base_score = fmt::format("{:.9g}", model->base_score[0]);
    if (XGBoosterLoadModelFromBuffer(lib.handle, workload.model.data(), workload.model.size()) ||
        XGBoosterSetParam(lib.handle, "nthread", "1") ||
        XGBoosterSetParam(lib.handle, "base_score", base_score.c_str())) {
      return Library{nullptr,
                     std::string("libxgboost cannot serve the model: ") + XGBGetLastError()};
    }
    std::vector<float> all(RowCount());
    if (!LibraryPredict(lib.handle, workload.rows.data(), RowCount(), all.data()) ||
        !Matches(all)) {
      return Library{nullptr, "libxgboost outputs differ from XGBoost 3's"};
    }
    return lib;
  }();
  return library;
}

void BM_XGBoostCApi(benchmark::State& state) {
  const Workload& workload = GetWorkload();
  if (!workload.error.empty()) return state.SkipWithError(workload.error.c_str());
  const Library& library = GetLibrary();
  if (library.handle == nullptr) return state.SkipWithError(library.error.c_str());
  Run(state, [&](size_t first, size_t rows, float* out) {
    return LibraryPredict(library.handle, workload.rows.data() + first * kFeatures, rows, out);
  });
}

BENCHMARK(BM_Trees)->ArgName("batch")->Arg(1)->Arg(1000);
BENCHMARK(BM_XGBoostCApi)->ArgName("batch")->Arg(1)->Arg(1000);

}  // namespace
}  // namespace falaj::serving

BENCHMARK_MAIN();
