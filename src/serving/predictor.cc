#include "serving/predictor.h"

#include <fmt/format.h>

#include <random>

namespace falaj::serving {
namespace {

// "<project>\x1f<name>": the key of a remembered route; Forget() drops a project's by prefix.
std::string CacheKey(std::string_view project, std::string_view name) {
  return fmt::format("{}\x1f{}", project, name);
}

// The wall-clock time of a steady-clock instant in the recent past.
int64_t WallClockMs(std::chrono::steady_clock::time_point at) {
  const auto ago = std::chrono::steady_clock::now() - at;
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             (std::chrono::system_clock::now() - ago).time_since_epoch())
      .count();
}

// Checks the single input tensor against the model and returns the number of rows.
Result<size_t> CheckInput(const InferRequest& request, const ServedModel& served) {
  if (request.inputs.size() != 1) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the model takes exactly one input tensor, got {}", request.inputs.size());
  }
  const InferInput& input = request.inputs.front();
  if (!served.input_name().empty() && input.name != served.input_name()) {
    return MakeError(ErrorCode::kInvalidArgument, "unknown input '{}'; the model's input is '{}'",
                     input.name.substr(0, 80), served.input_name());
  }
  if (input.datatype == DataType::kBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' has datatype BYTES; the model takes numeric tensors",
                     input.name.substr(0, 80));
  }
  const size_t width = served.runtime().num_features();
  const auto& shape = input.shape;
  bool shaped = (shape.size() == 2 && shape[1] == static_cast<int64_t>(width) && shape[0] >= 0) ||
                (shape.size() == 1 && shape[0] == static_cast<int64_t>(width));
  if (!shaped) {
    std::string given;
    for (int64_t dim : shape) given += (given.empty() ? "" : ", ") + std::to_string(dim);
    return MakeError(ErrorCode::kInvalidArgument,
                     "input '{}' has shape [{}]; the model takes [rows, {}]",
                     input.name.substr(0, 80), given, width);
  }
  size_t rows = shape.size() == 2 ? static_cast<size_t>(shape[0]) : 1;
  if (rows == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}' has no rows",
                     input.name.substr(0, 80));
  }
  if (input.values.size() != rows * width) {
    return MakeError(ErrorCode::kInvalidArgument, "input '{}' has {} values; its shape needs {}",
                     input.name.substr(0, 80), input.values.size(), rows * width);
  }
  return rows;
}

Status CheckOutputs(const InferRequest& request, const ServedModel& served) {
  for (const auto& output : request.outputs) {
    if (output != served.output_name()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "unknown output '{}'; the model's output is '{}'", output.substr(0, 80),
                       served.output_name());
    }
  }
  return Ok();
}

}  // namespace

Predictor::Predictor(EndpointStore& endpoints, registry::ModelRegistry& registry,
                     ModelManager& models)
    : endpoints_(endpoints),
      registry_(registry),
      models_(models),
      arm_stats_(models.metrics_registry()) {}

std::shared_ptr<const Predictor::Route> Predictor::RememberedRoute(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto found = routes_.find(key);
  if (found == routes_.end() ||
      std::chrono::steady_clock::now() - found->second->at >= kResolutionTtl) {
    return nullptr;
  }
  // Feature definitions changed since the route was resolved: the service may read otherwise.
  if (found->second->features && !found->second->features->current()) return nullptr;
  return found->second;
}

// The version an alias names; for the empty alias, the model's default: its "champion" alias
// when set, else its latest version that is not archived.
Result<int64_t> Predictor::LookUpVersion(std::string_view project, std::string_view model,
                                         std::string_view alias) {
  if (!alias.empty()) return registry_.ResolveAlias(project, model, alias);
  auto champion = registry_.ResolveAlias(project, model, "champion");
  if (champion || champion.error().code != ErrorCode::kNotFound) return champion;
  FALAJ_ASSIGN_OR_RETURN(auto versions, registry_.ListVersions(project, model));
  for (auto it = versions.rbegin(); it != versions.rend(); ++it) {
    if (it->status != "archived") return it->version;
  }
  return MakeError(ErrorCode::kNotFound, "model '{}' has no servable version", model.substr(0, 80));
}

Result<std::shared_ptr<const Predictor::Route>> Predictor::LookUpRoute(std::string_view project,
                                                                       std::string_view name) {
  if (guard_) FALAJ_RETURN_IF_ERROR(guard_(project));
  FALAJ_ASSIGN_OR_RETURN(auto endpoint, endpoints_.Find(project, name));
  auto route = std::make_shared<Route>();
  const std::string route_key = CacheKey(project, name);
  auto add_target = [&](LoadSpec spec, int64_t weight, std::string arm) {
    std::string key = spec.Key();
    std::string target_key = route_key + "\x1f" + std::to_string(route->targets.size());
    std::shared_ptr<ArmCounters> stats;
    if (!arm.empty()) stats = arm_stats_.For(project, name, arm);
    route->targets.push_back({std::move(spec), std::move(key), weight, std::move(target_key),
                              std::move(arm), std::move(stats)});
    route->weights.push_back(weight);
  };
  if (endpoint) {
    route->endpoint = true;
    route->endpoint_name = endpoint->name;
    route->request_timeout_ms = endpoint->request_timeout_ms;
    FALAJ_RETURN_IF_ERROR(ResolveFeatures(project, *endpoint, *route));
    FALAJ_ASSIGN_OR_RETURN(route->router, TrafficRouter::Create(*endpoint));
    // Weights change only with the endpoint as stored, so reading it is when to show them.
    arm_stats_.Publish(*endpoint);
    const std::vector<int64_t> weights = EffectiveWeights(*endpoint);
    for (size_t i = 0; i < endpoint->targets.size(); ++i) {
      const EndpointTarget& target = endpoint->targets[i];
      int64_t version = 0;
      if (target.version) {
        version = *target.version;
      } else {
        FALAJ_ASSIGN_OR_RETURN(version, LookUpVersion(project, target.model, target.alias));
      }
      add_target({endpoint->name, endpoint->project, target.model, version, endpoint->runtime,
                  endpoint->batching, endpoint->idle_unload_seconds},
                 weights[i], target.name);
    }
  } else {
    // No endpoint of that name: the name is a model of the project, at its default version.
    FALAJ_ASSIGN_OR_RETURN(int64_t version, LookUpVersion(project, name, ""));
    LoadSpec spec;
    spec.project = std::string(project);
    spec.model = std::string(name);
    spec.version = version;
    add_target(std::move(spec), 1, "");
  }
  route->at = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  routes_[route_key] = route;
  return std::shared_ptr<const Route>(std::move(route));
}

Status Predictor::ResolveFeatures(std::string_view project, const Endpoint& endpoint,
                                  Route& route) {
  if (endpoint.feature_service.empty()) return Ok();
  route.feature_service = endpoint.feature_service;
  if (features_ == nullptr) {
    return MakeError(ErrorCode::kUnavailable,
                     "endpoint '{}' reads feature service '{}', but this server has no online "
                     "feature store",
                     endpoint.name, endpoint.feature_service);
  }
  auto resolved = features_->Resolve(project, endpoint.feature_service);
  if (!resolved) {
    // Checked when the endpoint was written; the service changed since.
    return MakeError(ErrorCode::kUnavailable,
                     "endpoint '{}' cannot serve: feature service '{}': {}", endpoint.name,
                     endpoint.feature_service, resolved.error().message);
  }
  route.features = std::move(*resolved);
  return Ok();
}

Predictor::Resolution Predictor::Pinned(LoadSpec spec) {
  Resolution resolution;
  std::string key = spec.Key();
  resolution.pinned = RouteTarget{std::move(spec), std::move(key), 1, "", "", nullptr};
  return resolution;
}

std::optional<Result<Predictor::Resolution>> Predictor::Resolve(std::string_view project,
                                                                std::string_view name,
                                                                std::optional<int64_t> version,
                                                                Mode mode,
                                                                const InferRequest* request) {
  thread_local std::string key;
  key.assign(project);
  key += '\x1f';
  key += name;
  std::shared_ptr<const Route> route = RememberedRoute(key);
  if (!route) {
    if (mode == Mode::kNeverBlock) return std::nullopt;
    auto looked_up = LookUpRoute(project, name);
    if (!looked_up) {
      if (looked_up.error().code != ErrorCode::kNotFound || !version) {
        return std::unexpected(looked_up.error());
      }
      // A model without a servable default version can still be asked for a pinned one.
      LoadSpec spec;
      spec.project = std::string(project);
      spec.model = std::string(name);
      spec.version = *version;
      return Pinned(std::move(spec));
    }
    route = std::move(*looked_up);
  }
  if (version) {
    // A pinned version bypasses routing, and never hot-swaps to another version.
    if (!route->endpoint) {
      LoadSpec spec = route->targets.front().spec;
      spec.version = *version;
      return Pinned(std::move(spec));
    }
    auto match =
        std::find_if(route->targets.begin(), route->targets.end(),
                     [&](const RouteTarget& target) { return target.spec.version == *version; });
    if (match == route->targets.end()) {
      return MakeError(ErrorCode::kNotFound, "endpoint '{}' serves no version {}",
                       route->endpoint_name, *version);
    }
    RouteTarget pinned = *match;
    pinned.target_key.clear();
    return Resolution{route, 0, std::move(pinned), route->request_timeout_ms, {}};
  }
  if (request == nullptr || !route->endpoint) {
    return Resolution{
        route, PickWeighted(route->weights), std::nullopt, route->request_timeout_ms, {}};
  }
  FALAJ_ASSIGN_OR_RETURN(auto pick, route->router.Choose(*request, route->weights));
  return Resolution{route, pick.arm, std::nullopt, route->request_timeout_ms, pick.unit};
}

std::optional<Result<std::shared_ptr<ServedModel>>> Predictor::Acquire(const Resolution& resolution,
                                                                       Mode mode) {
  const RouteTarget& target = resolution.target();
  const bool routed = !target.target_key.empty();
  // Remembers which load served a routed target (only when it changes: the hot path writes
  // nothing).
  auto remember = [&] {
    std::lock_guard lock(mutex_);
    auto [found, inserted] = serving_.try_emplace(target.target_key, target.spec, target.key);
    if (!inserted && found->second.second != target.key) found->second = {target.spec, target.key};
  };
  if (auto ready = models_.GetReady(target.key)) {
    if (routed) remember();
    return ready;
  }
  // Hot swap: keep answering with the version that served this target until the new one is
  // ready.
  std::optional<std::pair<LoadSpec, std::string>> previous;
  if (routed) {
    std::lock_guard lock(mutex_);
    auto found = serving_.find(target.target_key);
    if (found != serving_.end()) previous = found->second;
  }
  if (previous && previous->second != target.key) {
    if (auto still_ready = models_.GetReady(previous->second)) {
      models_.LoadInBackground(target.spec);
      return still_ready;
    }
  }
  if (mode == Mode::kNeverBlock) return std::nullopt;
  auto loaded = models_.Load(target.spec);
  if (loaded && routed) remember();
  return loaded;
}

std::optional<Result<InferResponse>> Predictor::Run(InferRequest& request, Mode mode) {
  auto resolution = Resolve(request.project, request.name, request.version, mode, &request);
  if (!resolution) return std::nullopt;
  if (!*resolution) return std::unexpected(resolution->error());
  const Resolution& resolved = **resolution;
  const RouteTarget& target = resolved.target();
  // Mirrors are chosen (and the request copied) before the primary call moves from the request.
  thread_local std::vector<size_t> mirrors;
  mirrors.clear();
  if (resolved.route && resolved.route->router.has_shadows() && !resolved.pinned) {
    resolved.route->router.Mirrors(resolved.index, mirrors);
  }
  std::optional<InferRequest> mirrored;
  if (!mirrors.empty()) mirrored = request;
  auto answered = RunOn(request, resolved, mode, false);
  if (!answered) return std::nullopt;
  if (target.stats) {
    const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - request.received);
    target.stats->Record(answered->has_value(), latency.count());
    if (!*answered) RecordFailure(request, resolved, answered->error(), latency.count(), false);
  }
  if (mirrored) Mirror(std::move(*mirrored), resolved, mirrors);
  return answered;
}

void Predictor::RecordFailure(const InferRequest& request, const Resolution& resolution,
                              const Error& error, int64_t latency_us, bool shadow) {
  if (sink_ == nullptr || !sink_->Sample(request.project, request.name)) return;
  const RouteTarget& target = resolution.target();
  PredictionRecord record;
  record.project = request.project;
  record.endpoint = target.spec.endpoint;
  record.model = target.spec.model;
  record.version = target.spec.version;
  record.arm = target.arm;
  record.shadow = shadow;
  record.request_id = request.id;
  record.unit_key = std::string(resolution.unit);
  record.timestamp_ms = WallClockMs(request.received);
  record.latency_us = latency_us;
  record.error = error.message;
  sink_->Offer(std::move(record));
}

void Predictor::Mirror(InferRequest&& request, const Resolution& resolution,
                       const std::vector<size_t>& arms) {
  for (size_t i = 0; i < arms.size(); ++i) {
    const size_t arm = arms[i];
    const RouteTarget& target = resolution.route->targets[arm];
    // The last mirror takes the request itself; the others get copies.
    auto copy = i + 1 == arms.size() ? std::make_shared<InferRequest>(std::move(request))
                                     : std::make_shared<InferRequest>(request);
    Resolution shadow{resolution.route, arm, std::nullopt, resolution.request_timeout_ms, {}};
    bool queued =
        shadows_.TrySubmit([this, copy, shadow, unit = std::string(resolution.unit)]() mutable {
          // The unit outlives the original request here, in the task's own copy.
          shadow.unit = unit;
          copy->received = std::chrono::steady_clock::now();
          copy->deadline.reset();
          auto answered = *RunOn(*copy, shadow, Mode::kMayBlock, true);
          const RouteTarget& mirrored = shadow.target();
          mirrored.stats->RecordShadow(answered.has_value());
          if (!answered) {
            const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - copy->received);
            RecordFailure(*copy, shadow, answered.error(), latency.count(), true);
          }
        });
    if (!queued) target.stats->RecordShadowDropped();
  }
}

std::optional<Result<InferResponse>> Predictor::RunOn(InferRequest& request,
                                                      const Resolution& resolution, Mode mode,
                                                      bool shadow) {
  auto acquired = Acquire(resolution, mode);
  if (!acquired) return std::nullopt;
  if (!*acquired) return std::unexpected(acquired->error());
  std::shared_ptr<ServedModel> served = **acquired;
  if (mode == Mode::kNeverBlock && served->batches()) return std::nullopt;
  const Route* route = resolution.route.get();
  const ResolvedFeatureService* features = route ? route->features.get() : nullptr;
  if (mode == Mode::kNeverBlock && features && features->remote()) return std::nullopt;

  size_t rows = 0;
  std::span<const float> inputs;
  std::vector<float> assembled;  // the model's rows, when the endpoint fetches features
  if (features) {
    FALAJ_ASSIGN_OR_RETURN(
        rows, AssembleFeatureRows(request, *features, route->endpoint_name, route->feature_service,
                                  served->runtime().num_features(), assembled));
    inputs = assembled;
  } else {
    FALAJ_ASSIGN_OR_RETURN(rows, CheckInput(request, *served));
    inputs = request.inputs.front().values;
  }
  FALAJ_RETURN_IF_ERROR(CheckOutputs(request, *served));
  if (resolution.request_timeout_ms > 0 && !request.deadline) {
    request.deadline = request.received + std::chrono::milliseconds(resolution.request_timeout_ms);
  }
  FALAJ_ASSIGN_OR_RETURN(auto values, served->Predict(inputs, rows, request.deadline));
  InferResponse response;
  response.id = std::move(request.id);
  response.model_name = request.project + "." + request.name;
  response.model_version = std::to_string(served->spec().version);
  response.served_model = served->spec().model;
  response.endpoint = served->spec().endpoint;
  response.arm = resolution.target().arm;
  InferOutput& output = response.outputs.emplace_back();
  output.name = served->output_name();
  const size_t width = served->runtime().num_outputs();
  output.shape =
      width == 1 ? std::vector<int64_t>{static_cast<int64_t>(rows)}
                 : std::vector<int64_t>{static_cast<int64_t>(rows), static_cast<int64_t>(width)};
  output.data = std::move(values);
  const auto elapsed = std::chrono::steady_clock::now() - request.received;
  served->RecordRequestSeconds(std::chrono::duration<double>(elapsed).count());
  if (sink_ != nullptr && sink_->Sample(request.project, response.endpoint)) {
    PredictionRecord record;
    record.project = request.project;
    record.endpoint = response.endpoint;
    record.model = response.served_model;
    record.version = served->spec().version;
    record.arm = response.arm;
    record.shadow = shadow;
    record.unit_key = std::string(resolution.unit);
    record.request_id = response.id;
    record.timestamp_ms = WallClockMs(request.received);
    record.latency_us = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
    record.rows = rows;
    record.feature_names = served->feature_names();
    record.inputs.assign(inputs.begin(), inputs.end());
    record.outputs = output.data;
    record.output_width = width;
    sink_->Offer(std::move(record));
  }
  return response;
}

Result<InferResponse> Predictor::Infer(InferRequest& request) {
  return *Run(request, Mode::kMayBlock);
}

std::optional<Result<InferResponse>> Predictor::TryInferWithoutBlocking(InferRequest& request) {
  return Run(request, Mode::kNeverBlock);
}

Result<ModelMetadata> Predictor::Metadata(std::string_view project, std::string_view name,
                                          std::optional<int64_t> version) {
  FALAJ_ASSIGN_OR_RETURN(auto resolution, *Resolve(project, name, version, Mode::kMayBlock));
  const LoadSpec& spec = resolution.target().spec;
  FALAJ_ASSIGN_OR_RETURN(auto described,
                         registry_.GetVersion(spec.project, spec.model, spec.version));
  ModelMetadata metadata;
  metadata.name = fmt::format("{}.{}", project, name);
  metadata.versions = {std::to_string(spec.version)};
  metadata.platform = "falaj-" + described.format;
  auto tensors = [](const nlohmann::json& signature, std::string_view side,
                    TensorMetadata fallback) {
    std::vector<TensorMetadata> out;
    auto list = signature.find(side);
    if (list != signature.end() && list->is_array()) {
      for (const auto& tensor : *list) {
        if (!tensor.is_object()) continue;
        TensorMetadata item{tensor.value("name", ""), tensor.value("datatype", "FP32"), {}};
        if (auto shape = tensor.find("shape"); shape != tensor.end() && shape->is_array()) {
          for (const auto& dim : *shape)
            item.shape.push_back(dim.is_number_integer() ? dim.get<int64_t>() : -1);
        }
        out.push_back(std::move(item));
      }
    }
    if (out.empty()) out.push_back(std::move(fallback));
    return out;
  };
  metadata.inputs = tensors(described.signature, "inputs", {"input", "FP32", {-1, -1}});
  if (resolution.route && resolution.route->features) {
    // Requests carry the entity keys; request-time features, if the model takes any, follow in
    // the request's order under names of the caller's choosing.
    metadata.inputs.clear();
    for (const auto& key : resolution.route->features->join_keys()) {
      metadata.inputs.push_back({key, "INT64", {-1}});
    }
  }
  metadata.outputs = tensors(described.signature, "outputs", {"predict", "FP32", {-1}});
  return metadata;
}

Status Predictor::Ready(std::string_view project, std::string_view name,
                        std::optional<int64_t> version) {
  FALAJ_ASSIGN_OR_RETURN(auto resolution, *Resolve(project, name, version, Mode::kMayBlock));
  FALAJ_RETURN_IF_ERROR(*Acquire(resolution, Mode::kMayBlock));
  return Ok();
}

void Predictor::Forget(std::string_view project) {
  std::lock_guard lock(mutex_);
  std::string prefix = std::string(project) + "\x1f";
  auto drop = [&](auto& cache) {
    std::erase_if(cache, [&](const auto& entry) { return entry.first.starts_with(prefix); });
  };
  drop(routes_);
}

Result<std::vector<LoadSpec>> Predictor::TargetSpecs(std::string_view project,
                                                     std::string_view endpoint) {
  FALAJ_ASSIGN_OR_RETURN(Endpoint found, endpoints_.Get(project, endpoint));
  std::vector<LoadSpec> specs;
  for (const auto& target : found.targets) {
    int64_t version = 0;
    if (target.version) {
      version = *target.version;
    } else {
      FALAJ_ASSIGN_OR_RETURN(version, LookUpVersion(project, target.model, target.alias));
    }
    specs.push_back({found.name, found.project, target.model, version, found.runtime,
                     found.batching, found.idle_unload_seconds});
  }
  return specs;
}

}  // namespace falaj::serving
