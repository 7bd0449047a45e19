#include "features/feature_registry.h"

#include <map>
#include <set>

#include "features/view_rows.h"

namespace falaj::features {
namespace {

using Key = std::pair<std::string, std::string>;  // kind, name
using Latest = std::map<Key, DefinitionVersion>;

constexpr const char* kColumns = "kind, name, version, spec, created_by, created_at_ms";

DefinitionVersion FromRow(const storage::Row& row) {
  return {row.Text(0), row.Text(1), row.Int(2), nlohmann::json::parse(row.Text(3)),
          row.Text(4), row.Int(5)};
}

Result<Latest> LoadLatest(storage::Transaction& tx, std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(
      auto rows,
      tx.Query(fmt::format("SELECT {} FROM feature_definitions d WHERE project = ? AND version = "
                           "(SELECT MAX(version) FROM feature_definitions WHERE project = "
                           "d.project AND kind = d.kind AND name = d.name) ORDER BY kind, name",
                           kColumns),
               {std::string(project)}));
  Latest latest;
  for (const auto& row : rows) {
    auto version = FromRow(row);
    latest[{version.kind, version.name}] = std::move(version);
  }
  return latest;
}

const nlohmann::json* Find(const Latest& merged, std::string_view kind, std::string_view name) {
  auto found = merged.find({std::string(kind), std::string(name)});
  return found == merged.end() ? nullptr : &found->second.spec;
}

// The type a source column must have for a view to read it. `columns` is the source's schema,
// with the view's transformed columns for the features.
Status CheckColumn(const data::Source& source, const data::TableSchema& columns,
                   std::string_view view, std::string_view column,
                   std::optional<data::ColumnType> type, std::string_view role) {
  const data::ColumnSchema* found = columns.Find(column);
  if (!found) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "feature view '{}': source '{}' has no column '{}' ({})", view, source.name,
                     column, role);
  }
  if (type && found->type != *type) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "feature view '{}': {} '{}' is {} in source '{}', not {}", view, role, column,
                     data::ColumnTypeName(found->type), source.name, data::ColumnTypeName(*type));
  }
  return Ok();
}

Status CheckView(std::string_view project, std::string_view name, const nlohmann::json& spec,
                 const Latest& merged, data::SourceStore& sources) {
  FALAJ_ASSIGN_OR_RETURN(auto view, FeatureViewFromSpec(spec));
  auto source = sources.Get(project, view.source);
  if (!source) {
    return MakeError(ErrorCode::kInvalidArgument, "feature view '{}': {}", name,
                     source.error().message);
  }
  for (const auto& entity_name : view.entities) {
    const nlohmann::json* entity = Find(merged, "entity", entity_name);
    if (!entity) {
      return MakeError(ErrorCode::kInvalidArgument, "feature view '{}': entity '{}' is not defined",
                       name, entity_name);
    }
    FALAJ_ASSIGN_OR_RETURN(auto parsed, EntityFromSpec(*entity));
    for (const auto& key : parsed.join_keys) {
      FALAJ_RETURN_IF_ERROR(
          CheckColumn(*source, source->schema, name, key, std::nullopt, "join key"));
    }
  }
  FALAJ_RETURN_IF_ERROR(CheckColumn(*source, source->schema, name, view.timestamp_field,
                                    data::ColumnType::kTimestamp, "timestamp_field"));
  if (!view.created_timestamp_field.empty()) {
    FALAJ_RETURN_IF_ERROR(CheckColumn(*source, source->schema, name, view.created_timestamp_field,
                                      data::ColumnType::kTimestamp, "created_timestamp_field"));
  }
  view.name = std::string(name);
  FALAJ_ASSIGN_OR_RETURN(auto columns, ViewSchema(view, source->schema));
  if (view.aggregated()) {
    FALAJ_ASSIGN_OR_RETURN(auto typed, TypedAggregateFeatures(view, columns));
    if (typed.size() != view.features.size()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "feature view '{}': its aggregate features no longer match its source",
                       name);
    }
    return Ok();
  }
  for (const auto& feature : view.features) {
    FALAJ_RETURN_IF_ERROR(
        CheckColumn(*source, columns, name, feature.name, feature.type, "feature"));
  }
  return Ok();
}

// An aggregation view's spec gets its features typed from the source's columns, so services,
// training sets and online reads see them like any other view's.
Status TypeAggregateFeatures(std::string_view project, Definition& definition,
                             data::SourceStore& sources) {
  if (definition.kind != "feature_view" || !definition.spec.contains("aggregations")) return Ok();
  FALAJ_ASSIGN_OR_RETURN(auto view, FeatureViewFromSpec(definition.spec));
  view.name = definition.name;
  auto source = sources.Get(project, view.source);
  if (!source) {
    return MakeError(ErrorCode::kInvalidArgument, "feature view '{}': {}", definition.name,
                     source.error().message);
  }
  FALAJ_ASSIGN_OR_RETURN(auto columns, ViewSchema(view, source->schema));
  FALAJ_ASSIGN_OR_RETURN(auto typed, TypedAggregateFeatures(view, columns));
  nlohmann::json features = nlohmann::json::array();
  for (const auto& field : typed) {
    features.push_back({{"name", field.name}, {"type", data::ColumnTypeName(field.type)}});
  }
  definition.spec["features"] = std::move(features);
  return Ok();
}

Status CheckService(std::string_view name, const nlohmann::json& spec, const Latest& merged) {
  FALAJ_ASSIGN_OR_RETURN(auto service, FeatureServiceFromSpec(spec));
  for (const auto& reference : service.features) {
    const nlohmann::json* view = Find(merged, "feature_view", reference.view);
    if (!view) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "feature service '{}': feature view '{}' is not defined", name,
                       reference.view);
    }
    if (reference.feature == "*") continue;
    FALAJ_ASSIGN_OR_RETURN(auto parsed, FeatureViewFromSpec(*view));
    bool found = false;
    for (const auto& feature : parsed.features) found = found || feature.name == reference.feature;
    if (!found) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "feature service '{}': feature view '{}' has no feature '{}'", name,
                       reference.view, reference.feature);
    }
  }
  return Ok();
}

// The registered version of every (kind, name) the apply touches, to detect a concurrent apply.
std::map<Key, int64_t> VersionsOf(const Latest& latest, const std::vector<Definition>& applied) {
  std::map<Key, int64_t> versions;
  for (const auto& definition : applied) {
    auto found = latest.find({definition.kind, definition.name});
    versions[{definition.kind, definition.name}] =
        found == latest.end() ? 0 : found->second.version;
  }
  return versions;
}

}  // namespace

const storage::MigrationSet& FeatureRegistry::Migrations() {
  static const storage::MigrationSet kSet{
      "features",
      {{1, "create feature definitions",
        "CREATE TABLE feature_definitions (project TEXT NOT NULL, kind TEXT NOT NULL, name TEXT "
        "NOT NULL, version BIGINT NOT NULL, spec TEXT NOT NULL, created_by TEXT NOT NULL, "
        "created_at_ms BIGINT NOT NULL, PRIMARY KEY (project, kind, name, version))"}}};
  return kSet;
}

Result<int64_t> FeatureRegistry::CountInProject(storage::Transaction& tx,
                                                std::string_view project) {
  FALAJ_ASSIGN_OR_RETURN(auto rows,
                         tx.Query("SELECT COUNT(*) FROM feature_definitions WHERE project = ?",
                                  {std::string(project)}));
  return rows[0].Int(0);
}

Result<std::vector<AppliedChange>> FeatureRegistry::Apply(std::string_view project,
                                                          const std::vector<Definition>& applied,
                                                          std::string_view principal,
                                                          bool dry_run) {
  std::vector<Definition> definitions = applied;
  for (auto& definition : definitions) {
    FALAJ_RETURN_IF_ERROR(TypeAggregateFeatures(project, definition, sources_));
  }
  std::set<Key> seen;
  for (const auto& definition : definitions) {
    if (!seen.insert({definition.kind, definition.name}).second) {
      return MakeError(ErrorCode::kInvalidArgument, "{} '{}' is defined twice", definition.kind,
                       definition.name);
    }
  }
  Latest latest;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(latest, LoadLatest(tx, project));
        return Ok();
      }));
  Latest merged = latest;
  for (const auto& definition : definitions) {
    merged[{definition.kind, definition.name}].spec = definition.spec;
  }
  // Views before services, so a broken view is reported as itself, not through its services.
  for (const auto& [key, version] : merged) {
    if (key.first == "feature_view") {
      FALAJ_RETURN_IF_ERROR(CheckView(project, key.second, version.spec, merged, sources_));
    }
  }
  for (const auto& [key, version] : merged) {
    if (key.first == "feature_service") {
      FALAJ_RETURN_IF_ERROR(CheckService(key.second, version.spec, merged));
    }
  }
  std::vector<AppliedChange> changes;
  for (const auto& definition : definitions) {
    auto found = latest.find({definition.kind, definition.name});
    AppliedChange change{definition.kind, definition.name, "created", 1, nullptr};
    if (found != latest.end()) {
      const bool same = found->second.spec == definition.spec;
      change.action = same ? "unchanged" : "updated";
      change.version = found->second.version + (same ? 0 : 1);
      if (!same) change.previous = found->second.spec;
    }
    changes.push_back(std::move(change));
  }
  if (dry_run) return changes;
  const auto expected = VersionsOf(latest, definitions);
  const int64_t now = ToUnixMillis(clock_.Now());
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadWrite, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(auto current, LoadLatest(tx, project));
        if (VersionsOf(current, definitions) != expected) {
          return MakeError(ErrorCode::kFailedPrecondition,
                           "another apply changed these definitions meanwhile; apply again");
        }
        for (size_t i = 0; i < definitions.size(); ++i) {
          if (changes[i].action == "unchanged") continue;
          FALAJ_RETURN_IF_ERROR(tx.Run(
              "INSERT INTO feature_definitions (project, kind, name, version, spec, "
              "created_by, created_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
              {std::string(project), definitions[i].kind, definitions[i].name, changes[i].version,
               definitions[i].spec.dump(), std::string(principal), now}));
        }
        return Ok();
      }));
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return changes;
}

Result<std::vector<DefinitionVersion>> FeatureRegistry::List(std::string_view project) {
  Latest latest;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(latest, LoadLatest(tx, project));
        return Ok();
      }));
  std::vector<DefinitionVersion> listed;
  for (auto& [key, version] : latest) listed.push_back(std::move(version));
  return listed;
}

Result<std::vector<DefinitionVersion>> FeatureRegistry::Versions(std::string_view project,
                                                                 std::string_view kind,
                                                                 std::string_view name) {
  std::vector<DefinitionVersion> versions;
  FALAJ_RETURN_IF_ERROR(store_.RunTransaction(
      storage::TransactionMode::kReadOnly, [&](storage::Transaction& tx) -> Status {
        FALAJ_ASSIGN_OR_RETURN(
            auto rows, tx.Query(fmt::format("SELECT {} FROM feature_definitions WHERE project = ? "
                                            "AND kind = ? AND name = ? ORDER BY version",
                                            kColumns),
                                {std::string(project), std::string(kind), std::string(name)}));
        for (const auto& row : rows) versions.push_back(FromRow(row));
        return Ok();
      }));
  if (versions.empty()) {
    return MakeError(ErrorCode::kNotFound, "{} '{}' is not defined in project '{}'", kind, name,
                     project);
  }
  return versions;
}

Result<DefinitionVersion> FeatureRegistry::Get(std::string_view project, std::string_view kind,
                                               std::string_view name, int64_t version) {
  FALAJ_ASSIGN_OR_RETURN(auto versions, Versions(project, kind, name));
  if (version == 0) return versions.back();
  for (auto& stored : versions) {
    if (stored.version == version) return stored;
  }
  return MakeError(ErrorCode::kNotFound, "{} '{}' has no version {}", kind, name, version);
}

Result<ResolvedView> FeatureRegistry::ResolveView(std::string_view project, std::string_view view) {
  FALAJ_ASSIGN_OR_RETURN(auto stored, Get(project, "feature_view", view, 0));
  ResolvedView resolved;
  FALAJ_ASSIGN_OR_RETURN(resolved.view, FeatureViewFromSpec(stored.spec));
  resolved.view.name = stored.name;
  resolved.version = stored.version;
  resolved.selected = resolved.view.features;
  for (const auto& entity_name : resolved.view.entities) {
    FALAJ_ASSIGN_OR_RETURN(auto entity_version, Get(project, "entity", entity_name, 0));
    FALAJ_ASSIGN_OR_RETURN(auto entity, EntityFromSpec(entity_version.spec));
    resolved.join_keys.insert(resolved.join_keys.end(), entity.join_keys.begin(),
                              entity.join_keys.end());
  }
  FALAJ_ASSIGN_OR_RETURN(auto source, sources_.Get(project, resolved.view.source));
  for (const auto& key : resolved.join_keys) {
    const data::ColumnSchema* column = source.schema.Find(key);
    if (!column) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "feature view '{}': source '{}' no longer has join key '{}'", view,
                       source.name, key);
    }
    resolved.join_key_types.push_back(column->type);
  }
  return resolved;
}

Result<std::vector<ResolvedView>> FeatureRegistry::ResolveReferences(
    std::string_view project, const std::vector<FeatureReference>& references) {
  std::vector<ResolvedView> views;
  std::map<std::string, size_t> index;
  for (const auto& reference : references) {
    auto found = index.find(reference.view);
    if (found == index.end()) {
      FALAJ_ASSIGN_OR_RETURN(auto resolved, ResolveView(project, reference.view));
      resolved.selected.clear();
      found = index.emplace(reference.view, views.size()).first;
      views.push_back(std::move(resolved));
    }
    ResolvedView& view = views[found->second];
    bool matched = false;
    for (const auto& feature : view.view.features) {
      if (reference.feature == "*" || feature.name == reference.feature) {
        view.selected.push_back(feature);
        matched = true;
      }
    }
    if (!matched) {
      return MakeError(ErrorCode::kNotFound, "feature view '{}' has no feature '{}'",
                       reference.view, reference.feature);
    }
  }
  return views;
}

Result<std::vector<ResolvedView>> FeatureRegistry::ResolveService(std::string_view project,
                                                                  std::string_view service) {
  FALAJ_ASSIGN_OR_RETURN(auto stored, Get(project, "feature_service", service, 0));
  FALAJ_ASSIGN_OR_RETURN(auto parsed, FeatureServiceFromSpec(stored.spec));
  return ResolveReferences(project, parsed.features);
}

Result<std::vector<ResolvedView>> FeatureRegistry::ResolveRequested(
    std::string_view project, std::string_view service, const std::vector<FeatureReference>& refs) {
  if (!service.empty()) return ResolveService(project, service);
  if (!refs.empty()) return ResolveReferences(project, refs);
  return MakeError(ErrorCode::kInvalidArgument, "name a feature_service or a list of features");
}

}  // namespace falaj::features
