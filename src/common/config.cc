#include "common/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <filesystem>
#include <variant>

#include "common/logging.h"

extern char** environ;

namespace falaj {
namespace {

using FieldRef = std::variant<std::string*, int64_t*, std::vector<std::string>*, bool*>;

struct KeySpec {
  std::string_view key;
  std::string_view env;
  std::string_view description;
  bool secret;
  FieldRef (*field)(Config&);
};

// The one declaration of every key. Keep docs/configuration.md in step (a test checks it).
const KeySpec kKeys[] = {
    {"server.listen", "FALAJ_LISTEN", "Address to listen on, host:port (port 0: any free port).",
     false, [](Config& c) -> FieldRef { return &c.server.listen; }},
    {"server.grpc_listen", "FALAJ_GRPC_LISTEN",
     "KServe v2 gRPC address: auto (HTTP port + 1), off, or host:port.", false,
     [](Config& c) -> FieldRef { return &c.server.grpc_listen; }},
    {"server.io_threads", "FALAJ_IO_THREADS", "Threads serving connections; 0 means one per core.",
     false, [](Config& c) -> FieldRef { return &c.server.io_threads; }},
    {"server.worker_threads", "FALAJ_WORKER_THREADS",
     "Threads running control-plane handlers that do blocking storage I/O.", false,
     [](Config& c) -> FieldRef { return &c.server.worker_threads; }},
    {"server.body_limit_bytes", "FALAJ_BODY_LIMIT_BYTES",
     "Largest request body accepted; larger ones get 413.", false,
     [](Config& c) -> FieldRef { return &c.server.body_limit_bytes; }},
    {"server.header_timeout_seconds", "FALAJ_HEADER_TIMEOUT_SECONDS",
     "Time a client has to send a request's headers.", false,
     [](Config& c) -> FieldRef { return &c.server.header_timeout_seconds; }},
    {"server.body_timeout_seconds", "FALAJ_BODY_TIMEOUT_SECONDS",
     "Time a client has to send a request's body.", false,
     [](Config& c) -> FieldRef { return &c.server.body_timeout_seconds; }},
    {"server.idle_timeout_seconds", "FALAJ_IDLE_TIMEOUT_SECONDS",
     "Time an idle keep-alive connection stays open.", false,
     [](Config& c) -> FieldRef { return &c.server.idle_timeout_seconds; }},
    {"server.shutdown_grace_seconds", "FALAJ_SHUTDOWN_GRACE_SECONDS",
     "On SIGTERM/SIGINT, time in-flight requests get to finish.", false,
     [](Config& c) -> FieldRef { return &c.server.shutdown_grace_seconds; }},
    {"server.region", "FALAJ_SERVER_REGION",
     "Region of this serving/worker node; empty: storage.region. Deploying a project of another "
     "region here needs a transfer policy.",
     false, [](Config& c) -> FieldRef { return &c.server.region; }},
    {"server.tls.cert_file", "FALAJ_TLS_CERT_FILE", "PEM certificate chain; enables TLS.", false,
     [](Config& c) -> FieldRef { return &c.server.tls.cert_file; }},
    {"server.tls.key_file", "FALAJ_TLS_KEY_FILE", "PEM private key for the certificate.", false,
     [](Config& c) -> FieldRef { return &c.server.tls.key_file; }},
    {"server.tls.client_auth", "FALAJ_TLS_CLIENT_AUTH",
     "Client certificates: none, optional or required (verified against client_ca_file).", false,
     [](Config& c) -> FieldRef { return &c.server.tls.client_auth; }},
    {"server.tls.client_ca_file", "FALAJ_TLS_CLIENT_CA_FILE",
     "PEM CA certificates that issue client certificates (identity cert:<CN>).", false,
     [](Config& c) -> FieldRef { return &c.server.tls.client_ca_file; }},
    {"storage.data_dir", "FALAJ_DATA_DIR", "Directory for embedded storage and the admin key.",
     false, [](Config& c) -> FieldRef { return &c.storage.data_dir; }},
    {"storage.metadata_uri", "FALAJ_METADATA_URI",
     "Metadata store URI; empty means sqlite://<data_dir>/falaj.db.", true,
     [](Config& c) -> FieldRef { return &c.storage.metadata_uri; }},
    {"storage.blob_uri", "FALAJ_BLOB_URI", "Blob store URI; empty means file://<data_dir>/blobs.",
     true, [](Config& c) -> FieldRef { return &c.storage.blob_uri; }},
    {"storage.online_uri", "FALAJ_ONLINE_URI",
     "Online feature store URI; empty means rocksdb://<data_dir>/online.", true,
     [](Config& c) -> FieldRef { return &c.storage.online_uri; }},
    {"storage.region", "FALAJ_STORAGE_REGION",
     "Region where this deployment stores data; projects of other regions are refused.", false,
     [](Config& c) -> FieldRef { return &c.storage.region; }},
    {"security.bootstrap_admin_key", "FALAJ_BOOTSTRAP_ADMIN_KEY",
     "Admin API key created on first start; empty means generate one into <data_dir>/admin.key.",
     true, [](Config& c) -> FieldRef { return &c.security.bootstrap_admin_key; }},
    {"security.kek_uri", "FALAJ_KEK_URI",
     "Key-encryption keys for data at rest: file:///path or env://VAR; empty: <data_dir>/kek.keys.",
     true, [](Config& c) -> FieldRef { return &c.security.kek_uri; }},
    {"security.oidc.issuer", "FALAJ_OIDC_ISSUER",
     "OIDC issuer whose access tokens are accepted (compared with `iss` exactly); empty: off.",
     false, [](Config& c) -> FieldRef { return &c.security.oidc.issuer; }},
    {"security.oidc.audiences", "FALAJ_OIDC_AUDIENCES",
     "Accepted `aud` values (this service's client id).", false,
     [](Config& c) -> FieldRef { return &c.security.oidc.audiences; }},
    {"security.oidc.jwks_file", "FALAJ_OIDC_JWKS_FILE",
     "JWKS document of the issuer's signing keys, re-read on an unknown key id.", false,
     [](Config& c) -> FieldRef { return &c.security.oidc.jwks_file; }},
    {"security.oidc.jwks_uri", "FALAJ_OIDC_JWKS_URI",
     "URL of the issuer's JWKS (https; http only to loopback), fetched at start and on an "
     "unknown key id.",
     false, [](Config& c) -> FieldRef { return &c.security.oidc.jwks_uri; }},
    {"security.oidc.jwks_ca_file", "FALAJ_OIDC_JWKS_CA_FILE",
     "PEM CA bundle trusted for jwks_uri besides the system store.", false,
     [](Config& c) -> FieldRef { return &c.security.oidc.jwks_ca_file; }},
    {"security.oidc.jwks_timeout_seconds", "FALAJ_OIDC_JWKS_TIMEOUT_SECONDS",
     "Deadline for one whole JWKS fetch (1-60).", false,
     [](Config& c) -> FieldRef { return &c.security.oidc.jwks_timeout_seconds; }},
    {"security.oidc.jwks_refresh_cooldown_seconds", "FALAJ_OIDC_JWKS_REFRESH_COOLDOWN_SECONDS",
     "Least time between two JWKS fetches triggered by unknown key ids (1-3600).", false,
     [](Config& c) -> FieldRef { return &c.security.oidc.jwks_refresh_cooldown_seconds; }},
    {"security.oidc.algorithms", "FALAJ_OIDC_ALGORITHMS", "Allowed algorithms: RS256, ES256.",
     false, [](Config& c) -> FieldRef { return &c.security.oidc.algorithms; }},
    {"security.oidc.roles_claim", "FALAJ_OIDC_ROLES_CLAIM",
     "Claim whose values become groups (group:<value>) for role bindings.", false,
     [](Config& c) -> FieldRef { return &c.security.oidc.roles_claim; }},
    {"security.oidc.admin_groups", "FALAJ_OIDC_ADMIN_GROUPS",
     "Roles-claim values that make a caller a platform administrator.", false,
     [](Config& c) -> FieldRef { return &c.security.oidc.admin_groups; }},
    {"security.oidc.leeway_seconds", "FALAJ_OIDC_LEEWAY_SECONDS",
     "Clock skew tolerated on exp, nbf and iat (0-300).", false,
     [](Config& c) -> FieldRef { return &c.security.oidc.leeway_seconds; }},
    {"security.rate_limit.requests_per_second", "FALAJ_RATE_LIMIT_RPS",
     "Requests per second per principal (token bucket); 0: unlimited.", false,
     [](Config& c) -> FieldRef { return &c.security.rate_limit.requests_per_second; }},
    {"security.rate_limit.burst", "FALAJ_RATE_LIMIT_BURST",
     "Requests a principal may make at once before the rate applies.", false,
     [](Config& c) -> FieldRef { return &c.security.rate_limit.burst; }},
    {"security.rate_limit.auth_failures_per_minute", "FALAJ_AUTH_FAILURES_PER_MINUTE",
     "Failed authentications per client address per minute before 429; 0: unlimited.", false,
     [](Config& c) -> FieldRef { return &c.security.rate_limit.auth_failures_per_minute; }},
    {"projects.regions", "FALAJ_REGIONS",
     "Regions a project may be pinned to (comma-separated in the environment).", false,
     [](Config& c) -> FieldRef { return &c.projects.regions; }},
    {"retention.interval_seconds", "FALAJ_RETENTION_INTERVAL_SECONDS",
     "Seconds between scheduled retention runs over every project with a policy; 0: manual only.",
     false, [](Config& c) -> FieldRef { return &c.retention.interval_seconds; }},
    {"jobs.workers", "FALAJ_JOBS_WORKERS", "Background jobs that run at once (1-256).", false,
     [](Config& c) -> FieldRef { return &c.jobs.workers; }},
    {"jobs.queue_limit", "FALAJ_JOBS_QUEUE_LIMIT",
     "Jobs that may wait to run; past it submissions are refused with 429.", false,
     [](Config& c) -> FieldRef { return &c.jobs.queue_limit; }},
    {"jobs.commands_enabled", "FALAJ_JOBS_COMMANDS_ENABLED",
     "Allow command jobs, which run programs on the server (true or false).", false,
     [](Config& c) -> FieldRef { return &c.jobs.commands_enabled; }},
    {"jobs.max_log_mb", "FALAJ_JOBS_MAX_LOG_MB", "Size cap of one job's log in MiB (1-1024).",
     false, [](Config& c) -> FieldRef { return &c.jobs.max_log_mb; }},
    {"monitoring.prediction_log.sample_rate", "FALAJ_PREDICTION_LOG_SAMPLE_RATE",
     "Share of predictions written to the prediction log, 0 to 1.", false,
     [](Config& c) -> FieldRef { return &c.monitoring.prediction_log.sample_rate; }},
    {"monitoring.prediction_log.endpoint_sample_rates", "FALAJ_PREDICTION_LOG_ENDPOINT_RATES",
     "Per-endpoint sampling rates, project/endpoint=rate (comma-separated in the environment).",
     false,
     [](Config& c) -> FieldRef { return &c.monitoring.prediction_log.endpoint_sample_rates; }},
    {"monitoring.prediction_log.queue_capacity", "FALAJ_PREDICTION_LOG_QUEUE_CAPACITY",
     "Predictions waiting to be logged; past it they are dropped and counted.", false,
     [](Config& c) -> FieldRef { return &c.monitoring.prediction_log.queue_capacity; }},
    {"monitoring.prediction_log.flush_interval_ms", "FALAJ_PREDICTION_LOG_FLUSH_INTERVAL_MS",
     "Longest time a logged prediction waits to be written and synced.", false,
     [](Config& c) -> FieldRef { return &c.monitoring.prediction_log.flush_interval_ms; }},
    {"monitoring.prediction_log.segment_mb", "FALAJ_PREDICTION_LOG_SEGMENT_MB",
     "Size in MiB past which a prediction log segment is rolled.", false,
     [](Config& c) -> FieldRef { return &c.monitoring.prediction_log.segment_mb; }},
    {"monitoring.prediction_log.retention_days", "FALAJ_PREDICTION_LOG_RETENTION_DAYS",
     "Days prediction log segments are kept; 0: forever.", false,
     [](Config& c) -> FieldRef { return &c.monitoring.prediction_log.retention_days; }},
    {"monitoring.prediction_log.encrypt", "FALAJ_PREDICTION_LOG_ENCRYPT",
     "Seal logged predictions under the project's data key (true or false).", false,
     [](Config& c) -> FieldRef { return &c.monitoring.prediction_log.encrypt; }},
    {"training.python", "FALAJ_TRAINING_PYTHON",
     "Python interpreter with xgboost and numpy for distributed training.", false,
     [](Config& c) -> FieldRef { return &c.training.python; }},
    {"training.collective_script", "FALAJ_TRAINING_COLLECTIVE_SCRIPT",
     "Path of the distributed XGBoost launcher; empty: next to the server binary.", false,
     [](Config& c) -> FieldRef { return &c.training.collective_script; }},
    {"log.level", "FALAJ_LOG_LEVEL", "Log level: debug, info, warn or error.", false,
     [](Config& c) -> FieldRef { return &c.log_level; }},
};

const KeySpec* FindKey(std::string_view key) {
  for (const auto& spec : kKeys) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

std::vector<std::string> SplitCommaList(std::string_view text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
    start = end + 1;
  }
  return items;
}

// Assigns a textual value (from the environment, a flag or a YAML scalar) to a key's field.
Status AssignText(Config& config, const KeySpec& spec, std::string_view text,
                  std::string_view origin) {
  FieldRef field = spec.field(config);
  if (auto* value = std::get_if<std::string*>(&field)) {
    **value = std::string(text);
  } else if (auto* number = std::get_if<int64_t*>(&field)) {
    int64_t parsed = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), parsed);
    if (error != std::errc() || end != text.data() + text.size()) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: key '{}' expects an integer, got '{}'",
                       origin, spec.key, text);
    }
    **number = parsed;
  } else if (auto* flag = std::get_if<bool*>(&field)) {
    if (text != "true" && text != "false") {
      return MakeError(ErrorCode::kInvalidArgument, "{}: key '{}' expects true or false, got '{}'",
                       origin, spec.key, text);
    }
    **flag = text == "true";
  } else {
    *std::get<std::vector<std::string>*>(field) = SplitCommaList(text);
  }
  return Ok();
}

Status AssignYaml(Config& config, const KeySpec& spec, const YAML::Node& node,
                  std::string_view origin) {
  FieldRef field = spec.field(config);
  if (auto* list = std::get_if<std::vector<std::string>*>(&field)) {
    if (node.IsNull()) {  // "key:" or "key: ~" is an empty list
      (*list)->clear();
      return Ok();
    }
    if (!node.IsSequence()) {
      return MakeError(ErrorCode::kInvalidArgument, "{}: key '{}' expects a list of strings",
                       origin, spec.key);
    }
    (*list)->clear();
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        return MakeError(ErrorCode::kInvalidArgument, "{}: key '{}' expects a list of strings",
                         origin, spec.key);
      }
      (*list)->push_back(item.Scalar());
    }
    return Ok();
  }
  if (node.IsNull()) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: key '{}' has no value", origin, spec.key);
  }
  if (!node.IsScalar()) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: key '{}' expects a single value, not a {}",
                     origin, spec.key, node.IsMap() ? "mapping" : "list");
  }
  return AssignText(config, spec, node.Scalar(), origin);
}

Status ApplyYamlMapping(Config& config, const YAML::Node& mapping, const std::string& prefix,
                        std::string_view origin) {
  for (const auto& entry : mapping) {
    std::string key = prefix + entry.first.as<std::string>();
    const YAML::Node& value = entry.second;
    if (const KeySpec* spec = FindKey(key)) {
      FALAJ_RETURN_IF_ERROR(AssignYaml(config, *spec, value, origin));
    } else if (value.IsMap()) {
      bool is_section = false;
      for (const auto& candidate : kKeys) {
        if (candidate.key.starts_with(key + ".")) is_section = true;
      }
      if (!is_section) {
        return MakeError(ErrorCode::kInvalidArgument, "{}: unknown configuration key '{}'", origin,
                         key);
      }
      FALAJ_RETURN_IF_ERROR(ApplyYamlMapping(config, value, key + ".", origin));
    } else {
      return MakeError(ErrorCode::kInvalidArgument, "{}: unknown configuration key '{}'", origin,
                       key);
    }
  }
  return Ok();
}

Status ApplyFile(Config& config, const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot read configuration file '{}'", path);
  } catch (const YAML::Exception& error) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: invalid YAML: {}", path, error.what());
  }
  if (root.IsNull()) return Ok();
  if (!root.IsMap()) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: the top level must be a mapping", path);
  }
  try {
    return ApplyYamlMapping(config, root, "", path);
  } catch (const YAML::Exception& error) {
    return MakeError(ErrorCode::kInvalidArgument, "{}: {}", path, error.what());
  }
}

}  // namespace

std::string Config::EffectiveMetadataUri() const {
  return storage.metadata_uri.empty() ? "sqlite://" + storage.data_dir + "/falaj.db"
                                      : storage.metadata_uri;
}

std::string Config::EffectiveBlobUri() const {
  return storage.blob_uri.empty() ? "file://" + storage.data_dir + "/blobs" : storage.blob_uri;
}

std::string Config::EffectiveOnlineUri() const {
  if (!storage.online_uri.empty()) return storage.online_uri;
  // RocksDB URIs name an absolute directory.
  return "rocksdb://" + (std::filesystem::absolute(storage.data_dir) / "online").string();
}

std::string Config::EffectiveNodeRegion() const {
  return server.region.empty() ? storage.region : server.region;
}

Result<Config> LoadConfig(const ConfigSources& sources) {
  Config config;
  if (!sources.file.empty()) FALAJ_RETURN_IF_ERROR(ApplyFile(config, sources.file));
  for (const auto& spec : kKeys) {
    auto found = sources.env.find(std::string(spec.env));
    if (found == sources.env.end()) continue;
    std::string origin = "environment variable " + std::string(spec.env);
    FALAJ_RETURN_IF_ERROR(AssignText(config, spec, found->second, origin));
  }
  for (const auto& [key, value] : sources.overrides) {
    const KeySpec* spec = FindKey(key);
    if (spec == nullptr) {
      return MakeError(ErrorCode::kInvalidArgument, "command line: unknown configuration key '{}'",
                       key);
    }
    FALAJ_RETURN_IF_ERROR(AssignText(config, *spec, value, "command line"));
  }
  FALAJ_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

Result<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view address) {
  auto colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "listen address '{}' must be host:port, e.g. 127.0.0.1:8080", address);
  }
  std::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string_view port_text = address.substr(colon + 1);
  unsigned port = 0;
  auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return MakeError(ErrorCode::kInvalidArgument, "listen address '{}' has an invalid port",
                     address);
  }
  return std::make_pair(std::string(host), static_cast<uint16_t>(port));
}

Status ValidateConfig(const Config& config) {
  FALAJ_RETURN_IF_ERROR(ParseListenAddress(config.server.listen));
  if (config.server.grpc_listen != "auto" && config.server.grpc_listen != "off") {
    FALAJ_RETURN_IF_ERROR(ParseListenAddress(config.server.grpc_listen));
  }
  constexpr int64_t kDay = 24 * 3600;
  constexpr int64_t kNoMaximum = INT64_MAX;
  struct Bound {
    std::string_view key;
    int64_t value;
    int64_t minimum;
    int64_t maximum;
  };
  const Bound bounds[] = {
      {"server.io_threads", config.server.io_threads, 0, 1024},
      {"server.worker_threads", config.server.worker_threads, 1, 1024},
      {"server.body_limit_bytes", config.server.body_limit_bytes, 1, kNoMaximum},
      {"server.header_timeout_seconds", config.server.header_timeout_seconds, 1, kDay},
      {"server.body_timeout_seconds", config.server.body_timeout_seconds, 1, kDay},
      {"server.idle_timeout_seconds", config.server.idle_timeout_seconds, 1, kDay},
      {"server.shutdown_grace_seconds", config.server.shutdown_grace_seconds, 0, kDay},
      {"security.oidc.leeway_seconds", config.security.oidc.leeway_seconds, 0, 300},
      {"security.oidc.jwks_timeout_seconds", config.security.oidc.jwks_timeout_seconds, 1, 60},
      {"security.oidc.jwks_refresh_cooldown_seconds",
       config.security.oidc.jwks_refresh_cooldown_seconds, 1, 3600},
      {"security.rate_limit.requests_per_second", config.security.rate_limit.requests_per_second, 0,
       1'000'000},
      {"retention.interval_seconds", config.retention.interval_seconds, 0, 7 * kDay},
      {"jobs.workers", config.jobs.workers, 1, 256},
      {"jobs.queue_limit", config.jobs.queue_limit, 1, 1'000'000},
      {"jobs.max_log_mb", config.jobs.max_log_mb, 1, 1024},
      {"security.rate_limit.burst", config.security.rate_limit.burst, 1, 1'000'000},
      {"security.rate_limit.auth_failures_per_minute",
       config.security.rate_limit.auth_failures_per_minute, 0, 1'000'000},
      {"monitoring.prediction_log.queue_capacity", config.monitoring.prediction_log.queue_capacity,
       1, 1 << 24},
      {"monitoring.prediction_log.flush_interval_ms",
       config.monitoring.prediction_log.flush_interval_ms, 1, 10'000},
      {"monitoring.prediction_log.segment_mb", config.monitoring.prediction_log.segment_mb, 1,
       4096},
      {"monitoring.prediction_log.retention_days", config.monitoring.prediction_log.retention_days,
       0, 36500},
  };
  for (const auto& bound : bounds) {
    if (bound.value < bound.minimum || bound.value > bound.maximum) {
      return MakeError(ErrorCode::kInvalidArgument, "key '{}' must be {} to {}, got {}", bound.key,
                       bound.minimum, bound.maximum, bound.value);
    }
  }
  if (config.server.tls.cert_file.empty() != config.server.tls.key_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "keys 'server.tls.cert_file' and 'server.tls.key_file' must be set together");
  }
  const TlsConfig& tls = config.server.tls;
  if (tls.client_auth != "none" && tls.client_auth != "optional" && tls.client_auth != "required") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "key 'server.tls.client_auth' must be none, optional or required, got '{}'",
                     tls.client_auth);
  }
  if ((tls.client_auth != "none") != !tls.client_ca_file.empty() ||
      (tls.client_auth != "none" && tls.cert_file.empty())) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "key 'server.tls.client_auth' other than none needs "
                     "'server.tls.client_ca_file' and the server's own certificate (and the CA "
                     "file is used only then)");
  }
  if (!config.security.oidc.jwks_file.empty() && !config.security.oidc.jwks_uri.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "keys 'security.oidc.jwks_file' and 'security.oidc.jwks_uri' are "
                     "alternatives; set one");
  }
  if (config.storage.data_dir.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "key 'storage.data_dir' must not be empty");
  }
  for (const auto& [key, region] : {std::pair{"storage.region", &config.storage.region},
                                    std::pair{"server.region", &config.server.region}}) {
    if (!region->empty() &&
        std::find(config.projects.regions.begin(), config.projects.regions.end(), *region) ==
            config.projects.regions.end()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "key '{}' ('{}') must be one of "
                       "'projects.regions'",
                       key, *region);
    }
  }
  if (config.projects.regions.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "key 'projects.regions' must name a region");
  }
  FALAJ_RETURN_IF_ERROR(ParseSampleRate("monitoring.prediction_log.sample_rate",
                                        config.monitoring.prediction_log.sample_rate));
  for (const auto& entry : config.monitoring.prediction_log.endpoint_sample_rates) {
    const size_t equals = entry.find('=');
    if (equals == std::string::npos || entry.find('/') > equals) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "key 'monitoring.prediction_log.endpoint_sample_rates': '{}' is not "
                       "project/endpoint=rate",
                       entry);
    }
    FALAJ_RETURN_IF_ERROR(ParseSampleRate("monitoring.prediction_log.endpoint_sample_rates",
                                          std::string_view(entry).substr(equals + 1)));
  }
  if (log::Level level; !log::ParseLevel(config.log_level, &level)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "key 'log.level' must be debug, info, warn or error, got '{}'",
                     config.log_level);
  }
  return Ok();
}

Result<double> ParseSampleRate(std::string_view key, std::string_view text) {
  double rate = -1;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), rate);
  if (error != std::errc() || end != text.data() + text.size() || !(rate >= 0 && rate <= 1)) {
    return MakeError(ErrorCode::kInvalidArgument, "key '{}' must be a number from 0 to 1, got '{}'",
                     key, text);
  }
  return rate;
}

std::string RenderConfigYaml(const Config& config) {
  Config copy = config;
  YAML::Node root;
  for (const auto& spec : kKeys) {
    std::string_view rest = spec.key;
    std::vector<std::string> path;
    for (size_t dot; (dot = rest.find('.')) != std::string_view::npos;
         rest.remove_prefix(dot + 1)) {
      path.emplace_back(rest.substr(0, dot));
    }
    FieldRef field = spec.field(copy);
    YAML::Node value;
    if (auto* text = std::get_if<std::string*>(&field)) {
      value = (spec.secret && !(*text)->empty()) ? std::string("<redacted>") : **text;
    } else if (auto* number = std::get_if<int64_t*>(&field)) {
      value = **number;
    } else if (auto* flag = std::get_if<bool*>(&field)) {
      value = **flag;
    } else {
      value = YAML::Node(YAML::NodeType::Sequence);  // so an empty list prints as [], not ~
      for (const auto& item : *std::get<std::vector<std::string>*>(field)) value.push_back(item);
    }
    // yaml-cpp nodes are handles: walking down by assignment would rebind, so index by path.
    switch (path.size()) {
      case 1:
        root[path[0]][std::string(rest)] = value;
        break;
      case 2:
        root[path[0]][path[1]][std::string(rest)] = value;
        break;
      default:
        root[std::string(rest)] = value;
    }
  }
  YAML::Emitter out;
  out << root;
  return std::string(out.c_str()) + "\n";
}

std::vector<ConfigKeyInfo> ConfigKeys() {
  std::vector<ConfigKeyInfo> keys;
  for (const auto& spec : kKeys)
    keys.push_back({spec.key, spec.env, spec.description, spec.secret});
  return keys;
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    env.emplace(text.substr(0, equals), text.substr(equals + 1));
  }
  return env;
}

}  // namespace falaj
