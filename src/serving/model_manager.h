// The model manager: loads registered model versions for serving and keeps them loaded.
// Loading verifies the version first (manifest signature and every file's digest), so a
// tampered or unsigned artifact is never served. In-flight predictions hold a shared_ptr, so
// an unload never pulls a model out from under a request.
//
// Thread-safe: the cache is guarded by a mutex; loads of different versions run in parallel,
// and a version is loaded once even when many requests ask for it at the same time.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

#include "common/metrics.h"
#include "registry/model_registry.h"
#include "serving/model_runtime.h"

namespace falaj::serving {

struct ServedModel {
  std::string project;
  std::string model;
  int64_t version = 0;
  std::string format;
  std::shared_ptr<const LoadedModel> runtime;
};

class ModelManager {
 public:
  // Registers the serving metric families on `metrics`: falaj_inference_requests_total
  // {model,version,outcome}, falaj_inference_rows_total{model,version},
  // falaj_inference_compute_seconds{model,version} (histogram), falaj_models_loaded and
  // falaj_model_load_failures_total{model}. `model` is "<project>.<model>".
  ModelManager(registry::ModelRegistry& registry, metrics::Registry& metrics);

  // Runs the model on a batch and records the outcome, the rows and the compute time.
  Result<std::vector<double>> Predict(const ServedModel& served,
                                      const std::vector<double>& features, size_t rows);

  // The version to serve for a model: the "champion" alias when set, else the latest
  // registered (not archived) version. Remembered for kDefaultVersionTtl, so a moved alias or a
  // new version is served within that time without a registry read per request.
  static constexpr std::chrono::milliseconds kDefaultVersionTtl{1000};
  Result<int64_t> DefaultVersion(std::string_view project, std::string_view model);

  // The loaded model, loading (and verifying) it on first use. FAILED_PRECONDITION when the
  // version fails verification; UNIMPLEMENTED for a format no runtime serves.
  Result<ServedModel> Get(std::string_view project, std::string_view model, int64_t version);

  // Forgets the remembered default version of a model (after its versions or aliases change).
  void ForgetDefaultVersion(std::string_view project, std::string_view model);

  // Drops a loaded version (in-flight requests keep their reference).
  void Unload(std::string_view project, std::string_view model, int64_t version);
  size_t loaded_count();

 private:
  using Key = std::tuple<std::string, std::string, int64_t>;
  struct Slot {
    std::once_flag once;
    Result<ServedModel> loaded = MakeError(ErrorCode::kInternal, "not loaded");
  };
  Result<ServedModel> Load(std::string_view project, std::string_view model, int64_t version);

  Result<int64_t> LookUpDefaultVersion(std::string_view project, std::string_view model);

  struct DefaultEntry {
    int64_t version;
    std::chrono::steady_clock::time_point resolved;
  };

  registry::ModelRegistry& registry_;
  metrics::Family<metrics::Counter>& requests_;
  metrics::Family<metrics::Counter>& rows_;
  metrics::Family<metrics::Histogram>& compute_seconds_;
  metrics::Family<metrics::Gauge>& loaded_;
  metrics::Family<metrics::Counter>& load_failures_;
  std::mutex mutex_;
  std::map<Key, std::shared_ptr<Slot>> slots_;  // guarded by mutex_
  // (project, model) → default version; guarded by mutex_.
  std::map<std::pair<std::string, std::string>, DefaultEntry, std::less<>> defaults_;
};

}  // namespace falaj::serving
