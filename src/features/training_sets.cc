#include "features/training_sets.h"

#include <arrow/api.h>

#include "data/column_profile.h"
#include "features/point_in_time_join.h"

namespace falaj::features {
namespace {

// Output columns keep their source columns' types and classification tags.
data::TableSchema OutputSchema(const data::TableSchema& entities,
                               const std::vector<ResolvedView>& views,
                               const std::vector<data::Source>& sources, bool full_names) {
  data::TableSchema schema = entities;
  for (size_t v = 0; v < views.size(); ++v) {
    for (const auto& feature : views[v].selected) {
      data::ColumnSchema column = *sources[v].schema.Find(feature.name);
      if (full_names) column.name = views[v].view.name + "__" + feature.name;
      column.nullable = true;
      schema.columns.push_back(std::move(column));
    }
  }
  return schema;
}

}  // namespace

Result<data::DatasetVersion> TrainingSetBuilder::Build(const TrainingSetRequest& request) {
  FALAJ_ASSIGN_OR_RETURN(
      auto views,
      registry_.ResolveRequested(request.project, request.feature_service, request.features));
  FALAJ_ASSIGN_OR_RETURN(
      auto entity_version,
      datasets_.GetVersion(request.project, request.entity_dataset, request.entity_version));
  FALAJ_ASSIGN_OR_RETURN(auto entities, datasets_.ReadUpTo(request.project, request.entity_dataset,
                                                           entity_version.version));
  nlohmann::json lineage = {
      {"entities", {{"dataset", request.entity_dataset}, {"version", entity_version.version}}},
      {"feature_service", request.feature_service},
      {"feature_views", nlohmann::json::array()}};
  std::vector<FeatureViewData> inputs;
  std::vector<data::Source> sources;
  for (const auto& resolved : views) {
    FALAJ_ASSIGN_OR_RETURN(auto source, sources_.Get(request.project, resolved.view.source));
    FALAJ_ASSIGN_OR_RETURN(auto latest, datasets_.GetVersion(request.project, source.dataset, 0));
    FALAJ_ASSIGN_OR_RETURN(auto table,
                           datasets_.ReadUpTo(request.project, source.dataset, latest.version));
    FeatureViewData input;
    input.name = resolved.view.name;
    input.table = std::move(table);
    input.join_keys = resolved.join_keys;
    input.event_timestamp_column = resolved.view.timestamp_field;
    input.created_timestamp_column = resolved.view.created_timestamp_field;
    for (const auto& feature : resolved.selected) input.features.push_back(feature.name);
    input.ttl = resolved.view.ttl;
    inputs.push_back(std::move(input));
    lineage["feature_views"].push_back({{"name", resolved.view.name},
                                        {"definition_version", resolved.version},
                                        {"dataset", source.dataset},
                                        {"dataset_version", latest.version}});
    sources.push_back(std::move(source));
  }
  PointInTimeJoinOptions options;
  options.entity_timestamp_column = request.entity_timestamp_column;
  options.full_feature_names = request.full_feature_names;
  FALAJ_ASSIGN_OR_RETURN(auto joined, PointInTimeJoin(entities, inputs, options));
  FALAJ_ASSIGN_OR_RETURN(auto profile, data::ProfileTable(*joined));
  return datasets_.AddVersion(
      request.project, request.output, *joined,
      {.kind = data::DatasetKind::kTraining,
       .schema = OutputSchema(entity_version.schema, views, sources, request.full_feature_names),
       .profile = data::ProfileToJson(profile),
       .lineage = std::move(lineage),
       .created_by = request.principal});
}

}  // namespace falaj::features
