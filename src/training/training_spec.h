// The training spec: what TrainingService::Run and the tuner read. JSON (or YAML, converted by
// data/yaml_json.h), validated strictly: unknown keys and bad values are INVALID_ARGUMENT naming
// the field ("split.test_fraction", "params.max_depth" …). docs/training.md is the reference.
// Plain data and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "training/trainer.h"

namespace falaj::training {

struct TrainingSpec {
  // data: a dataset as of a version, or a feature service joined onto an entity dataset.
  std::string dataset;
  int64_t dataset_version = 0;  // 0: the latest
  std::string feature_service;
  std::string entity_dataset;
  int64_t entity_version = 0;
  std::string entity_timestamp_column = "event_timestamp";
  std::string label;
  std::vector<std::string> features;        // empty: the default selection
  std::string group;                        // ranking query column
  std::optional<SplitMethod> split_method;  // unset: the default by data and task
  SplitOptions split;
  std::string trainer;  // xgboost, linear, logistic
  std::string objective;
  int num_class = 0;
  Task task = Task::kRegression;
  std::map<std::string, std::string> xgboost_params;
  double l2 = 0;  // linear/logistic
  int num_boost_round = 100;
  int early_stopping_rounds = 0;
  int distributed_workers = 0;       // "distributed": {"workers": N}; 0: train in this process
  std::vector<std::string> metrics;  // empty: the task's defaults
  std::string experiment = "training";
  std::string register_model;  // empty: do not register
  std::string register_alias;
  nlohmann::json canonical;  // the spec as given, keys sorted
  std::string digest;        // SHA-256 hex of canonical.dump()
};

Result<TrainingSpec> ParseTrainingSpec(const nlohmann::json& spec);
// `text` is JSON or YAML.
Result<TrainingSpec> ParseTrainingSpecText(std::string_view text);

// The XGBoost configuration a spec asks for (trainer "xgboost").
XGBoostConfig XGBoostConfigOf(const TrainingSpec& spec);

}  // namespace falaj::training
