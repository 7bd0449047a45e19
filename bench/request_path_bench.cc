// Google Benchmark of the per-request work the pipeline does before and after a handler:
// route matching, the request-id mint, metric updates and JSON body parsing. These bound the
// overhead Falaj adds to every call, including inference later.
#include <benchmark/benchmark.h>

#include "api/router.h"
#include "common/json_fields.h"
#include "common/metrics.h"
#include "common/random.h"

namespace falaj {
namespace {

api::Router MakeRouter() {
  api::Router router;
  auto reply = [](api::HttpRequest&) { return api::HttpResponse::Json(200, nullptr); };
  for (const char* pattern :
       {"/healthz", "/readyz", "/metrics", "/api/v1/projects", "/api/v1/projects/{project}",
        "/api/v1/projects/{project}/models", "/api/v1/projects/{project}/models/{model}",
        "/v2/models/{model}/infer", "/v2/models/{model}/versions/{version}/infer"}) {
    (void)router.Add({"GET", pattern, "x.read", api::Execution::kWorker, false, reply});
    (void)router.Add({"POST", pattern, "x.write", api::Execution::kWorker, false, reply});
  }
  return router;
}

void BM_RouterMatchDeep(benchmark::State& state) {
  api::Router router = MakeRouter();
  for (auto _ : state) {
    benchmark::DoNotOptimize(router.Match("POST", "/v2/models/fraud/versions/3/infer"));
  }
}
BENCHMARK(BM_RouterMatchDeep);

void BM_RouterMatchShallow(benchmark::State& state) {
  api::Router router = MakeRouter();
  for (auto _ : state) benchmark::DoNotOptimize(router.Match("GET", "/healthz"));
}
BENCHMARK(BM_RouterMatchShallow);

void BM_NewRequestId(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(NewRequestId());
}
BENCHMARK(BM_NewRequestId);

void BM_CounterWithLabels(benchmark::State& state) {
  metrics::Registry registry;
  auto& family = registry.AddCounter("bench_total", "Bench.", {"route", "method", "code"});
  for (auto _ : state) family.WithLabels({"/api/v1/projects/{project}", "GET", "200"}).Increment();
}
BENCHMARK(BM_CounterWithLabels)->Threads(1)->Threads(2);

void BM_HistogramObserve(benchmark::State& state) {
  metrics::Registry registry;
  auto& family =
      registry.AddHistogram("bench_seconds", "Bench.", {"route"}, metrics::DefaultLatencyBuckets());
  auto& series = family.WithLabels({"/healthz"});
  double value = 0.0001;
  for (auto _ : state) series.Observe(value);
}
BENCHMARK(BM_HistogramObserve);

void BM_ParseProjectBody(benchmark::State& state) {
  const std::string body =
      R"({"name":"fraud-detection","region":"uae-north","description":"Card fraud models",)"
      R"("labels":{"team":"risk","cost-centre":"42"}})";
  for (auto _ : state) benchmark::DoNotOptimize(json::ParseObject(body));
}
BENCHMARK(BM_ParseProjectBody);

}  // namespace
}  // namespace falaj

BENCHMARK_MAIN();
