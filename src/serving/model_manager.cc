#include "serving/model_manager.h"

namespace falaj::serving {

ModelManager::ModelManager(registry::ModelRegistry& registry, metrics::Registry& metrics)
    : registry_(registry),
      requests_(metrics.AddCounter("falaj_inference_requests_total",
                                   "Inference calls by model, version and outcome (ok, error).",
                                   {"model", "version", "outcome"})),
      rows_(metrics.AddCounter("falaj_inference_rows_total", "Rows predicted.",
                               {"model", "version"})),
      compute_seconds_(metrics.AddHistogram(
          "falaj_inference_compute_seconds", "Time spent in the model runtime per call.",
          {"model", "version"}, metrics::DefaultLatencyBuckets())),
      loaded_(metrics.AddGauge("falaj_models_loaded", "Model versions loaded for serving.", {})),
      load_failures_(metrics.AddCounter("falaj_model_load_failures_total",
                                        "Loads refused (verification, format) or failed.",
                                        {"model"})) {}

Result<std::vector<double>> ModelManager::Predict(const ServedModel& served,
                                                  const std::vector<double>& features,
                                                  size_t rows) {
  std::string name = served.project + "." + served.model;
  std::string version = std::to_string(served.version);
  auto started = std::chrono::steady_clock::now();
  auto predictions = served.runtime->Predict(features, rows);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  requests_.WithLabels({name, version, predictions ? "ok" : "error"}).Increment();
  if (predictions) {
    rows_.WithLabels({name, version}).Increment(static_cast<double>(rows));
    compute_seconds_.WithLabels({name, version}).Observe(seconds);
  }
  return predictions;
}

Result<int64_t> ModelManager::DefaultVersion(std::string_view project, std::string_view model) {
  auto now = std::chrono::steady_clock::now();
  auto key = std::make_pair(std::string(project), std::string(model));
  {
    std::lock_guard lock(mutex_);
    auto found = defaults_.find(key);
    if (found != defaults_.end() && now - found->second.resolved < kDefaultVersionTtl) {
      return found->second.version;
    }
  }
  FALAJ_ASSIGN_OR_RETURN(int64_t version, LookUpDefaultVersion(project, model));
  std::lock_guard lock(mutex_);
  defaults_[std::move(key)] = DefaultEntry{version, now};
  return version;
}

Result<int64_t> ModelManager::LookUpDefaultVersion(std::string_view project,
                                                   std::string_view model) {
  auto champion = registry_.ResolveAlias(project, model, "champion");
  if (champion) return *champion;
  if (champion.error().code != ErrorCode::kNotFound) return std::unexpected(champion.error());
  FALAJ_ASSIGN_OR_RETURN(auto versions, registry_.ListVersions(project, model));
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (it->status != "archived") return it->version;
  }
  return MakeError(ErrorCode::kNotFound, "model '{}' has no servable version", model.substr(0, 80));
}

Result<ServedModel> ModelManager::Load(std::string_view project, std::string_view model,
                                       int64_t version) {
  FALAJ_ASSIGN_OR_RETURN(auto report, registry_.Verify(project, model, version));
  if (!report.ok) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "version {} of model '{}' failed verification and will not be served: {}",
                     version, model, report.reason);
  }
  FALAJ_ASSIGN_OR_RETURN(auto described, registry_.GetVersion(project, model, version));
  if (described.files.size() != 1) {
    return MakeError(ErrorCode::kUnimplemented,
                     "serving needs exactly one artifact file; version {} has {}", version,
                     described.files.size());
  }
  FALAJ_ASSIGN_OR_RETURN(auto reader,
                         registry_.OpenFile(project, model, version, described.files[0].path));
  std::string artifact;
  std::string chunk(64 * 1024, '\0');
  while (true) {
    FALAJ_ASSIGN_OR_RETURN(size_t read, reader->Read(chunk.data(), chunk.size()));
    if (read == 0) break;
    artifact.append(chunk.data(), read);
  }
  FALAJ_ASSIGN_OR_RETURN(auto runtime, LoadModel(described.format, artifact));
  return ServedModel{std::string(project), std::string(model), version, described.format,
                     std::shared_ptr<const LoadedModel>(std::move(runtime))};
}

Result<ServedModel> ModelManager::Get(std::string_view project, std::string_view model,
                                      int64_t version) {
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard lock(mutex_);
    auto& entry = slots_[Key{std::string(project), std::string(model), version}];
    if (!entry) entry = std::make_shared<Slot>();
    slot = entry;
  }
  // Loads outside the cache lock; concurrent requests for the same version wait on the once.
  std::call_once(slot->once, [&] { slot->loaded = Load(project, model, version); });
  if (!slot->loaded) {
    // A failed load is not cached: the next request tries again (e.g. after a re-upload).
    load_failures_.WithLabels({std::string(project) + "." + std::string(model)}).Increment();
    Unload(project, model, version);
  }
  loaded_.WithLabels({}).Set(static_cast<double>(loaded_count()));
  return slot->loaded;
}

void ModelManager::ForgetDefaultVersion(std::string_view project, std::string_view model) {
  std::lock_guard lock(mutex_);
  defaults_.erase(std::make_pair(std::string(project), std::string(model)));
}

void ModelManager::Unload(std::string_view project, std::string_view model, int64_t version) {
  std::lock_guard lock(mutex_);
  slots_.erase(Key{std::string(project), std::string(model), version});
}

size_t ModelManager::loaded_count() {
  std::lock_guard lock(mutex_);
  return slots_.size();
}

}  // namespace falaj::serving
