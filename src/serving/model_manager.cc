#include "serving/model_manager.h"

#include <fmt/format.h>

#include "common/logging.h"

namespace falaj::serving {
namespace {

constexpr auto kReaperInterval = std::chrono::seconds(1);

// The first tensor name of a signature side ("inputs" or "outputs"), or `fallback` when the
// signature names none (an empty input name then accepts any name, as MLServer and Triton do for
// unnamed models).
std::string SignatureName(const nlohmann::json& signature, std::string_view side,
                          std::string_view fallback) {
  auto tensors = signature.find(side);
  if (tensors != signature.end() && tensors->is_array() && !tensors->empty() &&
      tensors->front().is_object()) {
    auto name = tensors->front().find("name");
    if (name != tensors->front().end() && name->is_string()) return name->get<std::string>();
  }
  return std::string(fallback);
}

// The feature names of the signature's first input ("features", as training writes them); empty
// when it names none.
std::vector<std::string> SignatureFeatures(const nlohmann::json& signature) {
  std::vector<std::string> names;
  auto tensors = signature.find("inputs");
  if (tensors == signature.end() || !tensors->is_array() || tensors->empty() ||
      !tensors->front().is_object()) {
    return names;
  }
  auto features = tensors->front().find("features");
  if (features == tensors->front().end() || !features->is_array()) return names;
  for (const auto& name : *features) {
    if (!name.is_string()) return {};
    names.push_back(name.get<std::string>());
  }
  return names;
}

// The file a runtime loads: the only one, or — for versions registered through MLflow, which
// also carry MLmodel, requirements.txt … — the one their lineage names as the model's data.
Result<std::string> ModelFile(const registry::ModelVersion& version) {
  if (version.files.size() == 1) return version.files[0].path;
  const auto& lineage = version.lineage;
  if (lineage.is_object() && lineage.contains("mlflow") && lineage["mlflow"].is_object() &&
      lineage["mlflow"].contains("model_file") && lineage["mlflow"]["model_file"].is_string()) {
    std::string named = lineage["mlflow"]["model_file"].get<std::string>();
    for (const auto& file : version.files) {
      if (file.path == named) return named;
    }
  }
  return MakeError(ErrorCode::kUnimplemented,
                   "serving needs exactly one artifact file (or an MLflow version naming its "
                   "model file); version {} has {}",
                   version.version, version.files.size());
}

Result<std::string> ReadArtifact(registry::ModelRegistry& registry, const LoadSpec& spec,
                                 const std::string& path) {
  FALAJ_ASSIGN_OR_RETURN(auto reader,
                         registry.OpenFile(spec.project, spec.model, spec.version, path));
  std::string artifact;
  std::string chunk(64 * 1024, '\0');
  while (true) {
    FALAJ_ASSIGN_OR_RETURN(size_t read, reader->Read(chunk.data(), chunk.size()));
    if (read == 0) break;
    artifact.append(chunk.data(), read);
  }
  return artifact;
}

// Runs one row through the model so the first request does not pay for lazy initialisation,
// and so a model that loads but cannot predict never becomes ready.
Status WarmUp(const LoadedModel& model) {
  std::vector<float> row(model.num_features(), 0.0f);
  std::vector<float> outputs(model.num_outputs());
  Status predicted = model.Predict(row, 1, outputs);
  if (!predicted) {
    return MakeError(ErrorCode::kUnavailable, "warm-up prediction failed: {}",
                     predicted.error().message);
  }
  return Ok();
}

}  // namespace

std::string LoadSpec::Key() const {
  return fmt::format("{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}", endpoint, project, model,
                     version, runtime, batching.max_batch_size, batching.max_queue_delay_us,
                     batching.max_queue_rows, idle_unload_seconds);
}

std::string_view ModelStateName(ModelState state) {
  switch (state) {
    case ModelState::kLoading:
      return "loading";
    case ModelState::kReady:
      return "ready";
    case ModelState::kFailed:
      return "failed";
    case ModelState::kUnloaded:
      return "unloaded";
  }
  return "unknown";
}

struct ModelManager::Slot {
  LoadStatus status;
  std::shared_ptr<ServedModel> model;  // set while ready
};

ModelManager::ModelManager(registry::ModelRegistry& registry, metrics::Registry& metrics,
                           const Clock& clock)
    : registry_(registry),
      metrics_registry_(metrics),
      metrics_(metrics),
      clock_(clock),
      load_failures_(metrics
                         .AddCounter("falaj_model_load_failures_total",
                                     "Model loads refused (verification, format) or failed.", {})
                         .WithLabels({})),
      loads_(metrics.AddCounter("falaj_model_loads_total", "Model loads that became ready.", {})
                 .WithLabels({})),
      loaded_(metrics.AddGauge("falaj_models_loaded", "Model versions loaded for serving.", {})
                  .WithLabels({})) {
  reaper_ = std::jthread([this](std::stop_token stop) {
    std::mutex wait_mutex;
    std::condition_variable_any wake;
    std::unique_lock lock(wait_mutex);
    // Wakes every interval, or at once when the manager stops.
    while (true) {
      wake.wait_for(lock, stop, kReaperInterval, [] { return false; });
      if (stop.stop_requested()) return;
      UnloadIdle();
    }
  });
}

ModelManager::~ModelManager() {
  reaper_.request_stop();
  reaper_ = {};
  std::vector<std::jthread> loads;
  {
    std::lock_guard lock(mutex_);
    loads.swap(background_loads_);
  }
}

std::shared_ptr<ServedModel> ModelManager::GetReady(const LoadSpec& spec) {
  return GetReady(spec.Key());
}

std::shared_ptr<ServedModel> ModelManager::GetReady(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto found = slots_.find(key);
  if (found == slots_.end() || found->second->status.state != ModelState::kReady) return nullptr;
  return found->second->model;
}

Result<std::shared_ptr<ServedModel>> ModelManager::Load(const LoadSpec& spec) {
  std::string key = spec.Key();
  std::shared_ptr<Slot> slot;
  {
    std::unique_lock lock(mutex_);
    auto& entry = slots_[key];
    if (!entry) entry = std::make_shared<Slot>();
    slot = entry;
    // Another caller is loading this spec: wait for its outcome instead of loading twice.
    loaded_changed_.wait(lock, [&] { return slot->status.state != ModelState::kLoading; });
    if (slot->status.state == ModelState::kReady) return slot->model;
    slot->status.spec = spec;
    slot->status.state = ModelState::kLoading;
    slot->status.reason.clear();
  }
  auto loaded = LoadNow(spec);
  Publish(*slot, loaded);
  return loaded;
}

void ModelManager::Publish(Slot& slot, Result<std::shared_ptr<ServedModel>> loaded) {
  {
    std::lock_guard lock(mutex_);
    if (loaded) {
      slot.status.state = ModelState::kReady;
      slot.status.runtime = std::string((*loaded)->runtime().runtime());
      slot.status.loaded_at_ms = ToUnixMillis(clock_.Now());
      slot.model = *loaded;
      loads_.Increment();
    } else {
      // A failed load is not kept: the next request tries again (e.g. after a re-upload).
      slot.status.state = ModelState::kFailed;
      slot.status.reason = loaded.error().message;
      slot.model.reset();
      load_failures_.Increment();
    }
  }
  loaded_changed_.notify_all();
  UpdateLoadedGauge();
}

Result<std::shared_ptr<ServedModel>> ModelManager::LoadNow(const LoadSpec& spec) {
  FALAJ_ASSIGN_OR_RETURN(auto described,
                         registry_.GetVersion(spec.project, spec.model, spec.version));
  FALAJ_ASSIGN_OR_RETURN(auto report, registry_.Verify(spec.project, spec.model, spec.version));
  if (!report.ok) {
    return MakeError(ErrorCode::kUnavailable,
                     "version {} of model '{}' failed verification and will not be served: {}",
                     spec.version, spec.model, report.reason);
  }
  FALAJ_ASSIGN_OR_RETURN(auto model_file, ModelFile(described));
  FALAJ_ASSIGN_OR_RETURN(auto artifact, ReadArtifact(registry_, spec, model_file));
  auto runtime = LoadModel(described.format, spec.runtime, artifact);
  if (!runtime) {
    if (runtime.error().code == ErrorCode::kUnimplemented) return std::unexpected(runtime.error());
    return MakeError(ErrorCode::kUnavailable, "version {} of model '{}' failed to load: {}",
                     spec.version, spec.model, runtime.error().message);
  }
  FALAJ_RETURN_IF_ERROR(WarmUp(**runtime));
  log::Info("model loaded", {{"endpoint", spec.endpoint},
                             {"model", spec.project + "." + spec.model},
                             {"version", spec.version},
                             {"runtime", (*runtime)->runtime()}});
  return std::make_shared<ServedModel>(spec,
                                       std::shared_ptr<const LoadedModel>(std::move(*runtime)),
                                       SignatureName(described.signature, "inputs", ""),
                                       SignatureName(described.signature, "outputs", "predict"),
                                       SignatureFeatures(described.signature), metrics_);
}

void ModelManager::LoadInBackground(const LoadSpec& spec) {
  std::lock_guard lock(mutex_);
  auto found = slots_.find(spec.Key());
  if (found != slots_.end() && (found->second->status.state == ModelState::kLoading ||
                                found->second->status.state == ModelState::kReady)) {
    return;
  }
  std::erase_if(background_loads_, [](const std::jthread& thread) { return !thread.joinable(); });
  background_loads_.emplace_back([this, spec] { (void)Load(spec); });
}

std::vector<LoadStatus> ModelManager::Statuses(std::string_view project) {
  std::vector<LoadStatus> statuses;
  std::lock_guard lock(mutex_);
  for (const auto& [key, slot] : slots_) {
    if (slot->status.spec.project != project) continue;
    statuses.push_back(slot->status);
    if (slot->model) {
      statuses.back().last_used_ms =
          ToUnixMillis(clock_.Now()) -
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                slot->model->last_used())
              .count();
    }
  }
  return statuses;
}

LoadStatus ModelManager::StatusOf(const LoadSpec& spec) {
  std::lock_guard lock(mutex_);
  auto found = slots_.find(spec.Key());
  if (found == slots_.end()) return LoadStatus{spec};
  return found->second->status;
}

void ModelManager::UnloadIdle() {
  auto now = std::chrono::steady_clock::now();
  std::vector<std::shared_ptr<ServedModel>> released;  // destroyed outside the lock
  {
    std::lock_guard lock(mutex_);
    for (auto& [key, slot] : slots_) {
      if (slot->status.state != ModelState::kReady) continue;
      int64_t ttl = slot->status.spec.idle_unload_seconds;
      if (ttl <= 0 || now - slot->model->last_used() < std::chrono::seconds(ttl)) continue;
      slot->status.state = ModelState::kUnloaded;
      slot->status.reason = fmt::format("idle for more than {} s", ttl);
      released.push_back(std::move(slot->model));
      log::Info("model unloaded",
                {{"model", slot->status.spec.project + "." + slot->status.spec.model},
                 {"version", slot->status.spec.version},
                 {"reason", slot->status.reason}});
    }
  }
  if (!released.empty()) UpdateLoadedGauge();
}

void ModelManager::Unload(std::string_view project, std::string_view model, int64_t version) {
  std::vector<std::shared_ptr<Slot>> released;
  {
    std::lock_guard lock(mutex_);
    std::erase_if(slots_, [&](const auto& entry) {
      const LoadSpec& spec = entry.second->status.spec;
      bool match = spec.project == project && spec.model == model && spec.version == version &&
                   entry.second->status.state != ModelState::kLoading;
      if (match) released.push_back(entry.second);
      return match;
    });
  }
  UpdateLoadedGauge();
}

size_t ModelManager::loaded_count() {
  std::lock_guard lock(mutex_);
  size_t count = 0;
  for (const auto& [key, slot] : slots_) count += slot->status.state == ModelState::kReady;
  return count;
}

void ModelManager::UpdateLoadedGauge() { loaded_.Set(static_cast<double>(loaded_count())); }

}  // namespace falaj::serving
