// Drift on a wide batch and the per-value cost of live profiles. BM_DriftReport runs the default
// test (normed Wasserstein at this size) for 50 numeric features, 1M reference × 1M current rows
// each, generated in memory, on one thread; bench/drift_vs_evidently.py is the peer comparison.
// The Update benchmarks are the serving-path cost of monitoring one value of one feature.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "monitoring/drift_tests.h"
#include "monitoring/streaming_profile.h"

namespace falaj::monitoring {
namespace {

constexpr size_t kFeatures = 50;
constexpr size_t kRows = 1000000;

struct Batch {
  std::vector<std::vector<double>> reference;
  std::vector<std::vector<double>> current;
};

// Features alternate normal, lognormal and uniform; every fifth feature drifts in current.
const Batch& Data() {
  static const Batch batch = [] {
    Batch b;
    std::mt19937_64 random(42);
    for (size_t f = 0; f < kFeatures; ++f) {
      double shift = f % 5 == 0 ? 0.5 : 0.0;
      for (auto* side : {&b.reference, &b.current}) {
        std::vector<double> values(kRows);
        std::normal_distribution<double> normal(0.0, 1.0);
        std::lognormal_distribution<double> lognormal(0.0, 0.8);
        std::uniform_real_distribution<double> uniform(0.0, 10.0);
        double offset = side == &b.current ? shift : 0.0;
        for (double& v : values) {
          v = (f % 3 == 0   ? normal(random)
               : f % 3 == 1 ? lognormal(random)
                            : uniform(random)) +
              offset;
        }
        side->push_back(std::move(values));
      }
    }
    return b;
  }();
  return batch;
}

void BM_DriftReport(benchmark::State& state) {
  const Batch& batch = Data();
  int64_t drifted = 0;
  for (auto _ : state) {
    drifted = 0;
    for (size_t f = 0; f < kFeatures; ++f) {
      auto result = NumericDrift(batch.reference[f], batch.current[f]);
      if (!result) state.SkipWithError("drift failed");
      drifted += result->drifted ? 1 : 0;
    }
  }
  state.counters["features"] = kFeatures;
  state.counters["drifted"] = static_cast<double>(drifted);
  state.SetItemsProcessed(state.iterations() * kFeatures * kRows * 2);
}
BENCHMARK(BM_DriftReport)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

// PSI and JS of one feature from counts on the reference bins: what a monitor does per window
// once the window profile exists (no sort of raw values).
void BM_PsiFromWindowProfile(benchmark::State& state) {
  const Batch& batch = Data();
  auto edges = SturgesBins(batch.reference[1]);
  NumericWindowProfile reference(*edges);
  NumericWindowProfile current(*edges);
  for (double v : batch.reference[1]) reference.Update(v);
  for (double v : batch.current[1]) current.Update(v);
  for (auto _ : state) {
    benchmark::DoNotOptimize(PsiFromCounts(reference.bins(), current.bins()));
    benchmark::DoNotOptimize(JensenShannonFromCounts(reference.bins(), current.bins()));
  }
}
BENCHMARK(BM_PsiFromWindowProfile);

void BM_NumericProfileUpdate(benchmark::State& state) {
  const auto& values = Data().current[0];
  NumericWindowProfile profile(BinEdges{-5.0, 5.0, 21});
  size_t i = 0;
  for (auto _ : state) {
    profile.Update(values[i]);
    i = i + 1 == values.size() ? 0 : i + 1;
  }
  benchmark::DoNotOptimize(profile.count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_NumericProfileUpdate);

void BM_CategoricalProfileUpdate(benchmark::State& state) {
  std::vector<std::string> categories;
  for (int i = 0; i < 200; ++i) categories.push_back("category-" + std::to_string(i));
  auto profile = CategoricalWindowProfile::Create(categories);
  std::vector<std::string> stream;
  std::mt19937_64 random(7);
  for (int i = 0; i < 4096; ++i) stream.push_back("category-" + std::to_string(random() % 220));
  size_t i = 0;
  for (auto _ : state) {
    profile->Update(stream[i]);
    i = (i + 1) & 4095;
  }
  benchmark::DoNotOptimize(profile->count());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CategoricalProfileUpdate);

}  // namespace
}  // namespace falaj::monitoring

BENCHMARK_MAIN();
