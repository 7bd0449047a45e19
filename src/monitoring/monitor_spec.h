// What a monitor is: a project's watch over one endpoint (or model) against a reference, with a
// window length, the features to watch, per-feature statistic overrides and the share of drifted
// features that makes the whole window "drifted". Parsing is strict (unknown keys rejected,
// names checked) so a bad body is a 400 naming the field. Pure values; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace falaj::monitoring {

inline constexpr int64_t kMinWindowMs = 1000;
inline constexpr int64_t kMaxWindowMs = 30LL * 86'400'000;
inline constexpr size_t kMaxWatchedFeatures = 1000;

struct StatisticOverride {
  std::string statistic;            // ks, wasserstein, psi, jensenshannon
  std::optional<double> threshold;  // else the statistic's default
};

struct MonitorSpec {
  std::string name;
  std::string description;
  std::string endpoint;  // the traffic watched; "" to watch the model wherever it is served
  std::string model;     // "" with an endpoint: the model version the endpoint serves
  int64_t version = 0;   // 0: the endpoint's first target's version, or the model's latest
  // Reference: the served model version's training reference profile unless a dataset is named.
  std::string reference_dataset;
  int64_t reference_dataset_version = 0;  // 0: the latest
  int64_t window_ms = 3'600'000;
  std::vector<std::string> features;  // empty: every numeric feature of the reference
  std::map<std::string, StatisticOverride> statistics;
  double drift_share = 0.5;  // the window drifted when at least this share of features did
};

// Parses a create body. INVALID_ARGUMENT naming the field.
Result<MonitorSpec> ParseMonitorSpec(const nlohmann::json& body);

// Applies an update body (description, window, features, statistics, drift_share; the
// watched traffic and reference are fixed at creation) to `spec`.
Status ApplyMonitorUpdate(const nlohmann::json& body, MonitorSpec& spec);

nlohmann::json MonitorSpecToJson(const MonitorSpec& spec);
// The stored form back (written by MonitorSpecToJson).
Result<MonitorSpec> MonitorSpecFromJson(const nlohmann::json& json);

}  // namespace falaj::monitoring
