// Feature definitions as code: entities (join keys), feature views (a source's dataset, its
// entities, event and created timestamps, TTL, typed features, online or not; optionally row
// transformations computed from the source's columns, and windowed aggregations) and feature
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

// A column computed from each source row by a row expression (row_expression.h).
struct Transformation {
  std::string name;
  data::ColumnType type = data::ColumnType::kFloat64;
  std::string expr;
};

enum class AggregateFunction { kCount, kSum, kMean, kMin, kMax };
std::string_view AggregateFunctionName(AggregateFunction function);

// One aggregate of a column over one or more trailing windows.
struct Aggregation {
  std::string column;  // empty: count rows
  AggregateFunction function = AggregateFunction::kCount;
  std::vector<std::string> windows;  // as written ("1h", "24h", "7d"); they name the features
  std::string name;                  // a custom feature name; only with one window
};

// One feature of an aggregation view: aggregations[aggregation] over windows[window].
struct AggregateFeature {
  std::string name;
  size_t aggregation = 0;
  std::chrono::seconds window{0};
};

struct FeatureView {
  std::string name;
  std::vector<std::string> entities;
  std::string source;  // a source of the project; the view reads the source's dataset
  std::string timestamp_field;
  std::string created_timestamp_field;  // optional: breaks ties on the event timestamp
  std::chrono::seconds ttl{0};          // 0: values never expire
  // For an aggregation view, derived from `aggregations` (AggregateFeatures order) and typed by
  // the registry when the view is applied.
  std::vector<FeatureField> features;
  bool online = true;  // materialised into the online store
  std::string description;
  std::vector<Transformation> transformations;   // computed before anything else reads the rows
  std::chrono::seconds aggregation_interval{0};  // the tile size; set when aggregations are
  std::vector<Aggregation> aggregations;

  bool aggregated() const { return !aggregations.empty(); }
};

// The features of an aggregation view, one per (aggregation, window) in declaration order, named
// `name`, or `<column>_<function>_<window>`, or `count_<window>` for a count of rows.
std::vector<AggregateFeature> AggregateFeatures(const FeatureView& view);

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
