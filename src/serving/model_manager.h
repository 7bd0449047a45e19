// The model manager: the lifecycle of every model version loaded for serving, as an explicit
// state machine per load — loading → ready (after verification, load and warm-up) or failed
// (with the reason), and ready → unloaded when idle longer than its endpoint's
// idle_unload_seconds (scale to zero; the next request loads it again).
//
// A load is identified by its LoadSpec: the endpoint it serves for ("" when addressed as a
// model), the model version, the runtime, and the batching settings. Loading verifies the
// version first (manifest signature and every file's digest), so a tampered or unsigned
// artifact is never served. A ServedModel is shared: in-flight requests hold a shared_ptr, so an
// unload or a hot swap never pulls a model out from under a request.
//
// Thread-safety: every method may be called concurrently. Loads of different specs run in
// parallel; a spec is loaded once even when many requests ask for it at the same time.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"
#include "registry/model_registry.h"
#include "serving/endpoint_store.h"
#include "serving/model_runtime.h"

namespace falaj::serving {

class DynamicBatcher;

struct LoadSpec {
  std::string endpoint;  // "" when the model is addressed directly
  std::string project;
  std::string model;
  int64_t version = 0;
  std::string runtime = "auto";
  BatchingSettings batching;
  int64_t idle_unload_seconds = 0;

  std::string Key() const;
};

enum class ModelState { kLoading, kReady, kFailed, kUnloaded };
std::string_view ModelStateName(ModelState state);

// The serving metric families, labelled {endpoint, model, version} ("model" is
// "<project>.<model>"; "endpoint" is "" for a model addressed directly).
struct ServingMetrics {
  explicit ServingMetrics(metrics::Registry& registry);
  metrics::Family<metrics::Counter>& requests;  // + outcome: ok or error
  metrics::Family<metrics::Counter>& rows;
  metrics::Family<metrics::Histogram>& compute_seconds;
  metrics::Family<metrics::Histogram>& queue_seconds;
  metrics::Family<metrics::Histogram>& request_seconds;
  metrics::Family<metrics::Histogram>& batch_rows;
};

// A loaded, warmed-up model version and everything a request needs to run on it.
class ServedModel {
 public:
  // `feature_names` come from the version's signature; when they do not match the model's
  // width, the features are named "f0", "f1", …
  ServedModel(LoadSpec spec, std::shared_ptr<const LoadedModel> runtime, std::string input_name,
              std::string output_name, std::vector<std::string> feature_names,
              ServingMetrics& metrics);
  ~ServedModel();

  const LoadSpec& spec() const { return spec_; }
  const LoadedModel& runtime() const { return *runtime_; }
  // The input tensor the model takes and the output it gives (from the version's signature;
  // "" — any name — and "predict" when it names none).
  const std::string& input_name() const { return input_name_; }
  const std::string& output_name() const { return output_name_; }
  // One name per input feature, in order (for prediction records).
  const std::vector<std::string>& feature_names() const { return feature_names_; }
  bool batches() const { return batcher_ != nullptr; }

  // Predicts rows × num_features values (through the batcher when the spec batches) and records
  // the metrics. Errors as InferenceService::Infer describes.
  Result<std::vector<float>> Predict(std::span<const float> features, size_t rows,
                                     std::optional<std::chrono::steady_clock::time_point> deadline);

  // Records a request's end-to-end time (from when the transport received it).
  void RecordRequestSeconds(double seconds);
  void Touch() const;
  std::chrono::steady_clock::time_point last_used() const;

 private:
  const LoadSpec spec_;
  const std::shared_ptr<const LoadedModel> runtime_;
  const std::string input_name_;
  const std::string output_name_;
  std::vector<std::string> feature_names_;  // set in the constructor, then never changed
  std::unique_ptr<DynamicBatcher> batcher_;
  mutable std::atomic<int64_t> last_used_ns_{0};
  metrics::Counter& ok_;
  metrics::Counter& failed_;
  metrics::Counter& rows_;
  metrics::Histogram& compute_seconds_;
  metrics::Histogram& queue_seconds_;
  metrics::Histogram& batch_rows_;
  metrics::Histogram& request_seconds_;
};

struct LoadStatus {
  LoadSpec spec;
  ModelState state = ModelState::kUnloaded;
  std::string reason = "";   // why it failed or was unloaded
  std::string runtime = "";  // the runtime that serves it (auto resolves to trees or xgboost)
  int64_t loaded_at_ms = 0;
  int64_t last_used_ms = 0;
};

class ModelManager {
 public:
  // Registers the serving metric families on `metrics` (falaj_inference_*, falaj_models_loaded,
  // falaj_model_load_failures_total, falaj_model_loads_total) and starts the idle reaper.
  ModelManager(registry::ModelRegistry& registry, metrics::Registry& metrics,
               const Clock& clock = SystemClock::Instance());
  ~ModelManager();

  // The ready model for `spec`, or null when it is not loaded yet. Never blocks.
  std::shared_ptr<ServedModel> GetReady(const LoadSpec& spec);
  // The same, by the spec's Key() (for callers that keep it, sparing its formatting).
  std::shared_ptr<ServedModel> GetReady(std::string_view key);
  // The ready model, loading it first if needed (blocks for the load; concurrent callers of the
  // same spec share one load). UNAVAILABLE with the reason when the load fails; NOT_FOUND for an
  // unknown version; UNIMPLEMENTED for a format no runtime serves.
  Result<std::shared_ptr<ServedModel>> Load(const LoadSpec& spec);
  // Starts loading `spec` on a background thread unless it is loaded or loading.
  void LoadInBackground(const LoadSpec& spec);

  // Every load the manager knows of in `project` (loaded, loading, failed or unloaded).
  std::vector<LoadStatus> Statuses(std::string_view project);
  LoadStatus StatusOf(const LoadSpec& spec);
  // Unloads what has been idle longer than its spec allows. Runs every second on its own; public
  // for tests with a fake clock.
  void UnloadIdle();
  // Drops every load of a model version (after it is archived or deleted).
  void Unload(std::string_view project, std::string_view model, int64_t version);
  size_t loaded_count();
  // The registry the serving metrics go to (the predictor adds its per-arm families there).
  metrics::Registry& metrics_registry() { return metrics_registry_; }

 private:
  struct Slot;
  Result<std::shared_ptr<ServedModel>> LoadNow(const LoadSpec& spec);
  void Publish(Slot& slot, Result<std::shared_ptr<ServedModel>> loaded);
  void UpdateLoadedGauge();

  registry::ModelRegistry& registry_;
  metrics::Registry& metrics_registry_;
  ServingMetrics metrics_;
  const Clock& clock_;
  metrics::Counter& load_failures_;
  metrics::Counter& loads_;
  metrics::Gauge& loaded_;
  std::mutex mutex_;
  std::condition_variable loaded_changed_;
  std::map<std::string, std::shared_ptr<Slot>, std::less<>> slots_;  // by LoadSpec::Key()
  std::vector<std::jthread> background_loads_;                       // guarded by mutex_
  std::jthread reaper_;
};

}  // namespace falaj::serving
