// Server configuration: defaults, then a YAML file, then FALAJ_* environment variables, then
// command-line overrides. Every key is declared once in the key table (config.cc) with its type,
// environment variable, description and whether it is a secret; that table drives parsing,
// validation, `falaj config print` (secrets redacted) and docs/configuration.md.
//
// Loading is strict: an unknown key or a value of the wrong type stops start-up with a message
// naming the key and where it came from. A loaded Config is a plain value; share it read-only.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace falaj {

struct TlsConfig {
  std::string cert_file;  // PEM certificate chain; TLS is on when both files are set
  std::string key_file;   // PEM private key
  // Mutual TLS: "none", "optional" (a certificate, if sent, must verify) or "required".
  std::string client_auth = "none";
  std::string client_ca_file = {};  // PEM CAs that issue client certificates
};

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";
  // KServe v2 gRPC: "auto" is the HTTP host on the HTTP port + 1 (any free port when the HTTP
  // port is 0), "off" disables it, else host:port.
  std::string grpc_listen = "auto";
  int64_t io_threads = 0;  // 0: one per core
  int64_t worker_threads = 16;
  int64_t body_limit_bytes = 64 << 20;
  int64_t header_timeout_seconds = 10;
  int64_t body_timeout_seconds = 60;
  int64_t idle_timeout_seconds = 60;
  int64_t shutdown_grace_seconds = 10;
  // Region of the machine serving models and running jobs; empty: the storage region.
  std::string region;
  TlsConfig tls;
};

struct StorageConfig {
  std::string data_dir = "./data";
  std::string metadata_uri;  // empty: sqlite://<data_dir>/falaj.db
  std::string blob_uri;      // empty: file://<data_dir>/blobs
  std::string online_uri;    // empty: rocksdb://<data_dir>/online
  std::string region;        // where the metadata and blobs are stored; empty: undeclared
};

struct OidcConfig {
  std::string issuer;  // empty: OIDC off, API keys only
  std::vector<std::string> audiences;
  std::string jwks_file;     // one of jwks_file and jwks_uri
  std::string jwks_uri;      // https:// (http:// only to a loopback host)
  std::string jwks_ca_file;  // extra CA bundle for jwks_uri; empty: system trust store
  int64_t jwks_timeout_seconds = 5;
  int64_t jwks_refresh_cooldown_seconds = 30;  // least time between two JWKS fetches
  std::vector<std::string> algorithms = {"RS256", "ES256"};
  std::string roles_claim = "groups";
  std::vector<std::string> admin_groups;
  int64_t leeway_seconds = 60;
};

struct RateLimitConfig {
  int64_t requests_per_second = 200;  // per principal; 0: unlimited
  int64_t burst = 400;
  int64_t auth_failures_per_minute = 30;  // per client address; 0: unlimited
};

struct SecurityConfig {
  std::string bootstrap_admin_key;  // secret; empty: generate one into <data_dir>/admin.key
  // Key-encryption keys: "file:///path" or "env://VAR"; empty: <data_dir>/kek.keys, generated
  // on first start (development only: keep production KEKs off the data volume).
  std::string kek_uri;
  OidcConfig oidc;
  RateLimitConfig rate_limit;
};

struct ProjectsConfig {
  std::vector<std::string> regions = {"uae-north", "uae-central", "eu-west"};
};

struct RetentionConfig {
  int64_t interval_seconds = 3600;  // between scheduled retention runs; 0: manual runs only
};

struct JobsConfig {
  int64_t workers = 2;         // jobs running at once
  int64_t queue_limit = 1000;  // jobs waiting; past it submissions get RESOURCE_EXHAUSTED
  // Command jobs run programs on the server: off unless an operator turns them on.
  bool commands_enabled = false;
  int64_t max_log_mb = 16;  // per job log
};

struct TrainingConfig {
  // The interpreter that runs distributed XGBoost training (needs the xgboost and numpy
  // packages); a name is looked up in PATH.
  std::string python = "python3";
  // The distributed training launcher script; empty: python/falaj_training/xgboost_collective.py
  // next to the server binary (the install layout), else in the source tree it was built from.
  std::string collective_script;
};

// The prediction log (docs/prediction-log.md).
struct PredictionLogConfig {
  std::string sample_rate = "1";  // a number from 0 to 1: the share of predictions logged
  // Per endpoint, overriding sample_rate: "project/endpoint=rate".
  std::vector<std::string> endpoint_sample_rates;
  int64_t queue_capacity = 65536;  // records waiting for the writer; past it they are dropped
  int64_t flush_interval_ms = 20;  // the writer's idle poll, so the longest wait for durability
  int64_t segment_mb = 64;         // a segment is rolled past this size
  int64_t retention_days = 30;     // segments older than this are deleted; 0 keeps them
  bool encrypt = true;             // seal records under the project's data key
};

struct MonitoringConfig {
  PredictionLogConfig prediction_log;
};

// A sampling rate, "0" to "1"; INVALID_ARGUMENT naming `key` otherwise.
Result<double> ParseSampleRate(std::string_view key, std::string_view text);

struct Config {
  ServerConfig server;
  StorageConfig storage;
  SecurityConfig security;
  ProjectsConfig projects;
  RetentionConfig retention;
  JobsConfig jobs;
  TrainingConfig training;
  std::string log_level = "info";
  MonitoringConfig monitoring;

  // The metadata and blob URIs with the data-dir defaults filled in.
  std::string EffectiveMetadataUri() const;
  std::string EffectiveBlobUri() const;
  std::string EffectiveOnlineUri() const;
  // Where this node loads models: server.region, else storage.region ("" when neither is set).
  std::string EffectiveNodeRegion() const;
};

// Where a configuration comes from, in the order they apply.
struct ConfigSources {
  std::string file;                                            // YAML file; empty for none
  std::map<std::string, std::string> env;                      // environment, e.g. from environ
  std::vector<std::pair<std::string, std::string>> overrides;  // key=value from flags
};

Result<Config> LoadConfig(const ConfigSources& sources);

// Checks cross-field rules (TLS needs both files, positive limits, a parseable listen address).
Status ValidateConfig(const Config& config);

// The effective configuration as YAML, with secrets replaced by "<redacted>".
std::string RenderConfigYaml(const Config& config);

struct ConfigKeyInfo {
  std::string_view key;
  std::string_view env;
  std::string_view description;
  bool secret;
};
// Every configuration key, for documentation and its test.
std::vector<ConfigKeyInfo> ConfigKeys();

// Reads the process environment into a map.
std::map<std::string, std::string> ProcessEnvironment();

// Splits "host:port" (or "[v6]:port"); port 0 means any free port.
Result<std::pair<std::string, uint16_t>> ParseListenAddress(std::string_view address);

}  // namespace falaj
