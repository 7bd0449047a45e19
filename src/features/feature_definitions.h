// Feature definitions as code: entities (join keys), feature views (a source's dataset, its
// entities, event and created timestamps, TTL, typed features, online or not) and feature
// services (the features a model uses). Parsed strictly from the JSON form of the YAML files
// `falaj apply -f DIR` reads; each object is {"kind": "entity" | "feature_view" |
// "feature_service", "name": …, …}. Pure functions; thread-safe.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "data/table_schema.h"

namespace falaj::features {

struct Entity {
  std::string name;
  std::vector<std::string> join_keys;
  std::string description;
};

struct FeatureField {
  std::string name;
  data::ColumnType type = data::ColumnType::kFloat64;
};

struct FeatureView {
  std::string name;
  std::vector<std::string> entities;
  std::string source;  // a source of the project; the view reads the source's dataset
  std::string timestamp_field;
  std::string created_timestamp_field;  // optional: breaks ties on the event timestamp
  std::chrono::seconds ttl{0};          // 0: values never expire
  std::vector<FeatureField> features;
  bool online = true;  // materialised into the online store
  std::string description;
};

// A reference "view:feature", or "view:*" for every feature of the view.
struct FeatureReference {
  std::string view;
  std::string feature;  // "*" for all
};

struct FeatureService {
  std::string name;
  std::vector<FeatureReference> features;
  std::string description;
};

// One parsed object of any kind, with its canonical JSON (what versions compare and store).
struct Definition {
  std::string kind;  // entity, feature_view or feature_service
  std::string name;
  nlohmann::json spec;
};

Result<Definition> ParseDefinition(const nlohmann::json& object);
Result<Entity> EntityFromSpec(const nlohmann::json& spec);
Result<FeatureView> FeatureViewFromSpec(const nlohmann::json& spec);
Result<FeatureService> FeatureServiceFromSpec(const nlohmann::json& spec);
// "view:feature" or "view:*".
Result<FeatureReference> ParseFeatureReference(std::string_view text);

}  // namespace falaj::features
