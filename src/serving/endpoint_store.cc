#include "serving/endpoint_store.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/json_fields.h"
#include "common/random.h"
#include "registry/registry_names.h"

namespace falaj::serving {
namespace {

constexpr size_t kMaxTargets = 16;
constexpr size_t kMaxDescriptionLength = 4096;
constexpr int64_t kMaxWeight = 1'000'000;
constexpr size_t kMaxArmNameLength = 128;
// Canary shares are weights out of this, so a 0.5 % step is exact.
constexpr int64_t kCanaryScale = 10'000;
constexpr int kMutateAttempts = 8;
constexpr std::string_view kRuntimes[] = {"auto", "trees", "xgboost", "linear"};

constexpr std::string_view kColumns =
    "SELECT project, name, description, spec, created_by, created_at_ms, updated_at_ms FROM "
    "endpoints";

nlohmann::json TargetToJson(const EndpointTarget& target) {
  nlohmann::json json = {{"name", target.name}, {"model", target.model}, {"weight", target.weight}};
  if (target.version) json["version"] = *target.version;
  if (!target.alias.empty()) json["alias"] = target.alias;
  return json;
}

Result<EndpointTarget> TargetFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return MakeError(ErrorCode::kInvalidArgument, "a target is an object");
  FALAJ_RETURN_IF_ERROR(
      json::RejectUnknownFields(json, {"name", "model", "version", "alias", "weight"}));
  EndpointTarget target;
  FALAJ_ASSIGN_OR_RETURN(auto name, json::OptionalString(json, "name"));
  FALAJ_ASSIGN_OR_RETURN(target.model, json::RequiredString(json, "model"));
  FALAJ_ASSIGN_OR_RETURN(target.version, json::OptionalInt(json, "version"));
  FALAJ_ASSIGN_OR_RETURN(auto alias, json::OptionalString(json, "alias"));
  target.alias = alias.value_or("");
  FALAJ_ASSIGN_OR_RETURN(auto weight, json::OptionalInt(json, "weight"));
  target.weight = weight.value_or(1);
  if (name) {
    target.name = std::move(*name);
  } else if (target.version) {
    target.name = fmt::format("{}:v{}", target.model, *target.version);
  } else {
    target.name = fmt::format("{}@{}", target.model, target.alias);
  }
  return target;
}

// Everything but the identity columns, stored as one JSON document so settings can grow without
// a migration per knob.
nlohmann::json SpecToJson(const Endpoint& endpoint) {
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& target : endpoint.targets) targets.push_back(TargetToJson(target));
  nlohmann::json spec = {{"targets", targets},
                         {"runtime", endpoint.runtime},
                         {"batching",
                          {{"max_batch_size", endpoint.batching.max_batch_size},
                           {"max_queue_delay_us", endpoint.batching.max_queue_delay_us},
                           {"max_queue_rows", endpoint.batching.max_queue_rows}}},
                         {"idle_unload_seconds", endpoint.idle_unload_seconds},
                         {"request_timeout_ms", endpoint.request_timeout_ms}};
  // Only when set, so endpoints without one read exactly as before.
  if (!endpoint.feature_service.empty()) spec["feature_service"] = endpoint.feature_service;
  spec["traffic"] = TrafficPolicyToJson(endpoint.traffic);
  return spec;
}

Status SpecFromJson(const nlohmann::json& spec, Endpoint& endpoint, PolicySource source) {
  auto targets = spec.find("targets");
  if (targets == spec.end() || !targets->is_array()) {
    return MakeError(ErrorCode::kInvalidArgument, "'targets' must be a list");
  }
  endpoint.targets.clear();
  for (const auto& target : *targets) {
    FALAJ_ASSIGN_OR_RETURN(auto parsed, TargetFromJson(target));
    endpoint.targets.push_back(std::move(parsed));
  }
  FALAJ_ASSIGN_OR_RETURN(auto runtime, json::OptionalString(spec, "runtime"));
  endpoint.runtime = runtime.value_or("auto");
  if (auto batching = spec.find("batching"); batching != spec.end()) {
    if (!batching->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "'batching' must be an object");
    }
    FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
        *batching, {"max_batch_size", "max_queue_delay_us", "max_queue_rows"}));
    BatchingSettings defaults;
    FALAJ_ASSIGN_OR_RETURN(auto size, json::OptionalInt(*batching, "max_batch_size"));
    FALAJ_ASSIGN_OR_RETURN(auto delay, json::OptionalInt(*batching, "max_queue_delay_us"));
    FALAJ_ASSIGN_OR_RETURN(auto rows, json::OptionalInt(*batching, "max_queue_rows"));
    endpoint.batching = {size.value_or(defaults.max_batch_size),
                         delay.value_or(defaults.max_queue_delay_us),
                         rows.value_or(defaults.max_queue_rows)};
  }
  FALAJ_ASSIGN_OR_RETURN(auto idle, json::OptionalInt(spec, "idle_unload_seconds"));
  endpoint.idle_unload_seconds = idle.value_or(0);
  FALAJ_ASSIGN_OR_RETURN(auto timeout, json::OptionalInt(spec, "request_timeout_ms"));
  endpoint.request_timeout_ms = timeout.value_or(0);
  FALAJ_ASSIGN_OR_RETURN(auto feature_service, json::OptionalString(spec, "feature_service"));
  endpoint.feature_service = feature_service.value_or("");
  if (auto traffic = spec.find("traffic"); traffic != spec.end() && !traffic->is_null()) {
    FALAJ_ASSIGN_OR_RETURN(endpoint.traffic, TrafficPolicyFromJson(*traffic, source));
  }
  return Ok();
}

Endpoint EndpointFromRow(const storage::Row& row) {
  Endpoint endpoint;
  endpoint.project = row.Text(0);
  endpoint.name = row.Text(1);
  endpoint.description = row.Text(2);
  // Stored specs were validated on the way in.
  (void)SpecFromJson(nlohmann::json::parse(row.Text(3)), endpoint, PolicySource::kStored);
  endpoint.created_by = row.Text(4);
  endpoint.created_at_ms = row.Int(5);
  endpoint.updated_at_ms = row.Int(6);
  return endpoint;
}

Status ValidateArmName(std::string_view name) {
  const bool plain = std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ':' || c == '@';
  });
  if (name.empty() || name.size() > kMaxArmNameLength || !plain) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "arm name '{}' must be 1 to {} letters, digits, '_', '-', '.', ':' or '@'",
                     name.substr(0, 80), kMaxArmNameLength);
  }
  return Ok();
}

// A new canary starts its ramp now; an unchanged one keeps its progress.
void CarryCanaryState(const TrafficPolicy* previous, TrafficPolicy& next, int64_t now_ms) {
  if (!next.canary) {
    next.canary_state.reset();
    return;
  }
  if (previous && previous->canary && previous->canary_state &&
      SameCanary(*previous->canary, *next.canary)) {
    next.canary_state = previous->canary_state;
    return;
  }
  next.canary_state = CanaryState{"ramping", 0, now_ms, 0, ""};
}

Status CheckRange(std::string_view field, int64_t value, int64_t low, int64_t high) {
  if (value < low || value > high) {
    return MakeError(ErrorCode::kInvalidArgument, "'{}' must be between {} and {}, got {}", field,
                     low, high, value);
  }
  return Ok();
}

}  // namespace

EndpointStore::EndpointStore(storage::MetadataStore& store, registry::ModelRegistry& registry,
                             const Clock& clock)
    : store_(store), registry_(registry), clock_(clock) {}

const storage::MigrationSet& EndpointStore::Migrations() {
  static const storage::MigrationSet kSet{
      "endpoints",
      {{1, "create endpoints",
        "CREATE TABLE endpoints (project TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT "
        "NULL, spec TEXT NOT NULL, created_by TEXT NOT NULL, created_at_ms BIGINT NOT NULL, "
        "updated_at_ms BIGINT NOT NULL, PRIMARY KEY (project, name))"}}};
  return kSet;
}

Result<int64_t> EndpointStore::CountInProject(storage::Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows, tx.Query("SELECT COUNT(*) FROM endpoints WHERE project = ?",
                                             {std::string(project)}));
  return rows.front().Int(0);
}

Result<std::optional<std::string>> EndpointStore::EndpointServing(storage::Transaction& tx,
                                                                  std::string_view project,
                                                                  std::string_view model,
                                                                  int64_t version) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows, tx.Query(std::string(kColumns) + " WHERE project = ?", {std::string(project)}));
  for (const auto& row : rows) {
    Endpoint endpoint = EndpointFromRow(row);
    for (const auto& target : endpoint.targets) {
      if (target.model == model && target.version == version) {
        return std::optional<std::string>("endpoint '" + endpoint.name + "'");
      }
    }
  }
  return std::optional<std::string>();
}

Status EndpointStore::Validate(const Endpoint& endpoint) {
  FALAJ_RETURN_IF_ERROR(registry::ValidateName("endpoint name", endpoint.name));
  if (endpoint.description.size() > kMaxDescriptionLength) {
    return MakeError(ErrorCode::kInvalidArgument, "description is longer than {} bytes",
                     kMaxDescriptionLength);
  }
  if (endpoint.targets.empty() || endpoint.targets.size() > kMaxTargets) {
    return MakeError(ErrorCode::kInvalidArgument, "an endpoint needs 1 to {} targets, got {}",
                     kMaxTargets, endpoint.targets.size());
  }
  if (std::find(std::begin(kRuntimes), std::end(kRuntimes), endpoint.runtime) ==
      std::end(kRuntimes)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'runtime' must be auto, trees, xgboost or linear, got '{}'",
                     endpoint.runtime.substr(0, 40));
  }
  FALAJ_RETURN_IF_ERROR(CheckRange("max_batch_size", endpoint.batching.max_batch_size, 0, 65536));
  FALAJ_RETURN_IF_ERROR(
      CheckRange("max_queue_delay_us", endpoint.batching.max_queue_delay_us, 0, 1'000'000));
  FALAJ_RETURN_IF_ERROR(
      CheckRange("max_queue_rows", endpoint.batching.max_queue_rows, 1, 1'048'576));
  FALAJ_RETURN_IF_ERROR(
      CheckRange("idle_unload_seconds", endpoint.idle_unload_seconds, 0, 365 * 86400));
  FALAJ_RETURN_IF_ERROR(CheckRange("request_timeout_ms", endpoint.request_timeout_ms, 0, 3600000));
  int64_t total_weight = 0;
  for (size_t i = 0; i < endpoint.targets.size(); ++i) {
    const EndpointTarget& target = endpoint.targets[i];
    FALAJ_RETURN_IF_ERROR(ValidateArmName(target.name));
    for (size_t j = 0; j < i; ++j) {
      if (endpoint.targets[j].name == target.name) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "two targets are arm '{}'; give each target a distinct 'name'",
                         target.name);
      }
    }
    FALAJ_RETURN_IF_ERROR(registry::ValidateName("target model", target.model));
    FALAJ_RETURN_IF_ERROR(CheckRange("weight", target.weight, 0, kMaxWeight));
    total_weight += target.weight;
    if (target.version.has_value() == !target.alias.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "target '{}' needs exactly one of 'version' and 'alias'", target.model);
    }
    if (target.version) {
      FALAJ_RETURN_IF_ERROR(registry_.GetVersion(endpoint.project, target.model, *target.version));
    } else {
      FALAJ_RETURN_IF_ERROR(registry::ValidateName("alias", target.alias));
      FALAJ_RETURN_IF_ERROR(registry_.ResolveAlias(endpoint.project, target.model, target.alias));
    }
  }
  if (total_weight == 0 &&
      !(endpoint.traffic.canary_state && endpoint.traffic.canary_state->ramping())) {
    return MakeError(ErrorCode::kInvalidArgument, "the targets' weights must not all be 0");
  }
  FALAJ_RETURN_IF_ERROR(ValidateTrafficPolicy(endpoint.traffic, ArmNames(endpoint)));
  return ValidateFeatureService(endpoint);
}

Status EndpointStore::ValidateFeatureService(const Endpoint& endpoint) {
  if (endpoint.feature_service.empty()) return Ok();
  FALAJ_RETURN_IF_ERROR(registry::ValidateName("feature_service", endpoint.feature_service));
  if (features_ == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'feature_service' needs an online feature store, which this server lacks");
  }
  auto resolved = features_->Resolve(endpoint.project, endpoint.feature_service);
  if (!resolved) {
    // A missing or unusable service is the body's fault (400), not a missing endpoint (404).
    const ErrorCode code = resolved.error().code;
    const bool bad_body = code == ErrorCode::kNotFound || code == ErrorCode::kInvalidArgument ||
                          code == ErrorCode::kFailedPrecondition;
    return MakeError(bad_body ? ErrorCode::kInvalidArgument : code,
                     "feature_service '{}' cannot feed endpoint '{}': {}", endpoint.feature_service,
                     endpoint.name, resolved.error().message);
  }
  return Ok();
}

Result<Endpoint> EndpointStore::Create(Endpoint endpoint) {
  endpoint.created_at_ms = endpoint.updated_at_ms = ToUnixMillis(clock_.Now());
  endpoint.traffic.salt = RandomHex(8);
  CarryCanaryState(nullptr, endpoint.traffic, endpoint.created_at_ms);
  FALAJ_RETURN_IF_ERROR(Validate(endpoint));
  Status inserted =
      store_.RunTransaction(storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) {
        return tx.Run(
            "INSERT INTO endpoints (project, name, description, spec, created_by, created_at_ms, "
            "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
            {endpoint.project, endpoint.name, endpoint.description, SpecToJson(endpoint).dump(),
             endpoint.created_by, endpoint.created_at_ms, endpoint.updated_at_ms});
      });
  if (!inserted && inserted.error().code == ErrorCode::kAlreadyExists) {
    return MakeError(ErrorCode::kAlreadyExists, "endpoint '{}' already exists", endpoint.name);
  }
  if (!inserted) return std::unexpected(inserted.error());
  return endpoint;
}

Result<Endpoint> EndpointStore::Update(Endpoint endpoint) {
  // Validated before the read as well, so a bad body is refused as such even for a missing
  // endpoint (and the traffic policy once its state is carried over, in Mutate).
  Endpoint checked = endpoint;
  CarryCanaryState(nullptr, checked.traffic, 0);
  FALAJ_RETURN_IF_ERROR(Validate(checked));
  return Mutate(endpoint.project, endpoint.name, [&](Endpoint& existing) {
    const TrafficPolicy previous = std::move(existing.traffic);
    const std::string created_by = existing.created_by;
    const int64_t created_at_ms = existing.created_at_ms;
    existing = endpoint;
    existing.created_by = created_by;
    existing.created_at_ms = created_at_ms;
    existing.traffic.salt = previous.salt;
    CarryCanaryState(&previous, existing.traffic, ToUnixMillis(clock_.Now()));
    return Ok();
  });
}

Result<Endpoint> EndpointStore::Mutate(std::string_view project, std::string_view name,
                                       const std::function<Status(Endpoint&)>& change) {
  for (int attempt = 0; attempt < kMutateAttempts; ++attempt) {
    std::optional<Endpoint> found;
    std::string before;  // the stored spec exactly as read, for the compare-and-set
    FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
        storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
          FALAJ_ASSIGN_OR_RETURN(auto rows,
                                 tx.Query(std::string(kColumns) + " WHERE project = ? AND name = ?",
                                          {std::string(project), std::string(name)}));
          if (!rows.empty()) {
            found = EndpointFromRow(rows.front());
            before = rows.front().Text(3);
          }
          return Ok();
        }));
    if (!found) {
      return MakeError(ErrorCode::kNotFound, "endpoint '{}' not found", name.substr(0, 80));
    }
    Endpoint endpoint = std::move(*found);
    const int64_t updated_before = endpoint.updated_at_ms;
    FALAJ_RETURN_IF_ERROR(change(endpoint));
    endpoint.project = std::string(project);
    endpoint.name = std::string(name);
    endpoint.updated_at_ms = ToUnixMillis(clock_.Now());
    FALAJ_RETURN_IF_ERROR(Validate(endpoint));
    int64_t changed = 0;
    FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
        storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
          // Compare-and-set on the stored spec: a concurrent writer makes this match nothing,
          // and the change is applied again to what that writer left.
          FALAJ_ASSIGN_OR_RETURN(
              changed,
              tx.Execute("UPDATE endpoints SET description = ?, spec = ?, updated_at_ms = ? "
                         "WHERE project = ? AND name = ? AND spec = ? AND updated_at_ms = ?",
                         {endpoint.description, SpecToJson(endpoint).dump(), endpoint.updated_at_ms,
                          endpoint.project, endpoint.name, before, updated_before}));
          return Ok();
        }));
    if (changed > 0) return endpoint;
  }
  return MakeError(ErrorCode::kUnavailable,
                   "endpoint '{}' kept changing while being updated; try again",
                   name.substr(0, 80));
}

Result<std::vector<Endpoint>> EndpointStore::ListRamping() {
  std::vector<Endpoint> ramping;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        // A cheap pre-filter; the parsed state decides.
        FALAJ_ASSIGN_OR_RETURN(
            auto rows, tx.Query(std::string(kColumns) + " WHERE spec LIKE ?", {"%\"ramping\"%"}));
        for (const auto& row : rows) {
          Endpoint endpoint = EndpointFromRow(row);
          const auto& state = endpoint.traffic.canary_state;
          if (endpoint.traffic.canary && state && state->ramping()) {
            ramping.push_back(std::move(endpoint));
          }
        }
        return Ok();
      }));
  return ramping;
}

Result<std::optional<Endpoint>> EndpointStore::Find(std::string_view project,
                                                    std::string_view name) {
  std::optional<Endpoint> found;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows,
                               tx.Query(std::string(kColumns) + " WHERE project = ? AND name = ?",
                                        {std::string(project), std::string(name)}));
        if (!rows.empty()) found = EndpointFromRow(rows.front());
        return Ok();
      }));
  return found;
}

Result<Endpoint> EndpointStore::Get(std::string_view project, std::string_view name) {
  FALAJ_ASSIGN_OR_RETURN(auto found, Find(project, name));
  if (!found) {
    return MakeError(ErrorCode::kNotFound, "endpoint '{}' not found", name.substr(0, 80));
  }
  return std::move(*found);
}

Result<std::vector<Endpoint>> EndpointStore::List(std::string_view project) {
  std::vector<Endpoint> endpoints;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto rows,
                               tx.Query(std::string(kColumns) + " WHERE project = ? ORDER BY name",
                                        {std::string(project)}));
        for (const auto& row : rows) endpoints.push_back(EndpointFromRow(row));
        return Ok();
      }));
  return endpoints;
}

Status EndpointStore::Delete(std::string_view project, std::string_view name) {
  int64_t deleted = 0;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(deleted,
                               tx.Execute("DELETE FROM endpoints WHERE project = ? AND name = ?",
                                          {std::string(project), std::string(name)}));
        return Ok();
      }));
  if (deleted == 0) {
    return MakeError(ErrorCode::kNotFound, "endpoint '{}' not found", name.substr(0, 80));
  }
  return Ok();
}

std::vector<int64_t> EffectiveWeights(const Endpoint& endpoint) {
  std::vector<int64_t> weights;
  weights.reserve(endpoint.targets.size());
  const auto& canary = endpoint.traffic.canary;
  const auto& state = endpoint.traffic.canary_state;
  if (!canary || !state || !state->ramping()) {
    for (const auto& target : endpoint.targets) weights.push_back(target.weight);
    return weights;
  }
  const double percent = canary->steps[std::min(state->step, canary->steps.size() - 1)];
  const auto share = static_cast<int64_t>(std::llround(percent * kCanaryScale / 100));
  for (const auto& target : endpoint.targets) {
    if (target.name == canary->arm) {
      weights.push_back(share);
    } else if (target.name == canary->baseline) {
      weights.push_back(kCanaryScale - share);
    } else {
      weights.push_back(0);
    }
  }
  return weights;
}

std::vector<std::string> ArmNames(const Endpoint& endpoint) {
  std::vector<std::string> names;
  names.reserve(endpoint.targets.size());
  for (const auto& target : endpoint.targets) names.push_back(target.name);
  return names;
}

nlohmann::json EndpointToJson(const Endpoint& endpoint) {
  nlohmann::json json = SpecToJson(endpoint);
  json["project"] = endpoint.project;
  json["name"] = endpoint.name;
  json["description"] = endpoint.description;
  json["created_by"] = endpoint.created_by;
  json["created_at_ms"] = endpoint.created_at_ms;
  json["updated_at_ms"] = endpoint.updated_at_ms;
  return json;
}

Result<Endpoint> EndpointFromJson(const nlohmann::json& body) {
  if (!body.is_object()) return MakeError(ErrorCode::kInvalidArgument, "body must be an object");
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      body, {"name", "description", "targets", "runtime", "batching", "idle_unload_seconds",
             "request_timeout_ms", "feature_service", "traffic"}));
  Endpoint endpoint;
  FALAJ_ASSIGN_OR_RETURN(auto name, json::OptionalString(body, "name"));
  endpoint.name = name.value_or("");
  FALAJ_ASSIGN_OR_RETURN(auto description, json::OptionalString(body, "description"));
  endpoint.description = description.value_or("");
  FALAJ_RETURN_IF_ERROR(SpecFromJson(body, endpoint, PolicySource::kBody));
  return endpoint;
}

}  // namespace falaj::serving
