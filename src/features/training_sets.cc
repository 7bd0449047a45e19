#include "features/training_sets.h"

#include <arrow/api.h>

#include <set>

#include "data/arrow_status.h"
#include "data/column_profile.h"
#include "features/point_in_time_join.h"
#include "features/view_rows.h"
#include "features/window_aggregation.h"

namespace falaj::features {
namespace {

std::string OutputName(const ResolvedView& view, const std::string& feature, bool full_names) {
  return full_names ? view.view.name + "__" + feature : feature;
}

// Output columns keep their source (or transformed) columns' types and classification tags; an
// aggregate carries the tags of the column it aggregates.
Result<data::TableSchema> OutputSchema(const data::TableSchema& entities,
                                       const std::vector<ResolvedView>& views,
                                       const std::vector<data::Source>& sources, bool full_names) {
  data::TableSchema schema = entities;
  for (size_t v = 0; v < views.size(); ++v) {
    FALAJ_ASSIGN_OR_RETURN(auto columns, ViewSchema(views[v].view, sources[v].schema));
    const auto aggregates = WindowAggregatesOf(views[v].view, views[v].selected);
    for (size_t f = 0; f < views[v].selected.size(); ++f) {
      const FeatureField& feature = views[v].selected[f];
      data::ColumnSchema column{.name = feature.name, .type = feature.type, .tags = {}};
      const bool aggregate = views[v].view.aggregated();
      const data::ColumnSchema* read =
          columns.Find(aggregate ? aggregates[f].column : feature.name);
      if (read && !aggregate) column = *read;
      if (read && aggregate) column.tags = read->tags;
      column.name = OutputName(views[v], feature.name, full_names);
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
  // Per view, its output columns: aggregates computed here, others taken from the as-of join.
  std::vector<std::vector<std::shared_ptr<arrow::ChunkedArray>>> aggregated(views.size());
  for (size_t v = 0; v < views.size(); ++v) {
    const ResolvedView& resolved = views[v];
    FALAJ_ASSIGN_OR_RETURN(auto source, sources_.Get(request.project, resolved.view.source));
    FALAJ_ASSIGN_OR_RETURN(auto latest, datasets_.GetVersion(request.project, source.dataset, 0));
    FALAJ_ASSIGN_OR_RETURN(auto table,
                           datasets_.ReadUpTo(request.project, source.dataset, latest.version));
    FALAJ_ASSIGN_OR_RETURN(table, ViewRows(resolved.view, std::move(table)));
    if (resolved.view.aggregated()) {
      WindowViewData input{resolved.view.name,
                           std::move(table),
                           resolved.join_keys,
                           resolved.view.timestamp_field,
                           resolved.view.aggregation_interval,
                           WindowAggregatesOf(resolved.view, resolved.selected)};
      FALAJ_ASSIGN_OR_RETURN(aggregated[v],
                             WindowAggregateJoin(entities, request.entity_timestamp_column, input));
    } else {
      FeatureViewData input;
      input.name = resolved.view.name;
      input.table = std::move(table);
      input.join_keys = resolved.join_keys;
      input.event_timestamp_column = resolved.view.timestamp_field;
      input.created_timestamp_column = resolved.view.created_timestamp_field;
      for (const auto& feature : resolved.selected) input.features.push_back(feature.name);
      input.ttl = resolved.view.ttl;
      inputs.push_back(std::move(input));
    }
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
  FALAJ_ASSIGN_OR_RETURN(auto joined_table,
                         AssembleColumns(*joined, entities->num_columns(), views, aggregated,
                                         request.full_feature_names));
  FALAJ_ASSIGN_OR_RETURN(auto profile, data::ProfileTable(*joined_table));
  FALAJ_ASSIGN_OR_RETURN(
      auto schema, OutputSchema(entity_version.schema, views, sources, request.full_feature_names));
  return datasets_.AddVersion(request.project, request.output, *joined_table,
                              {.kind = data::DatasetKind::kTraining,
                               .schema = std::move(schema),
                               .profile = data::ProfileToJson(profile),
                               .lineage = std::move(lineage),
                               .created_by = request.principal});
}

Result<std::shared_ptr<arrow::Table>> AssembleColumns(
    const arrow::Table& joined, int entity_columns, const std::vector<ResolvedView>& views,
    const std::vector<std::vector<std::shared_ptr<arrow::ChunkedArray>>>& aggregated,
    bool full_names) {
  std::vector<std::shared_ptr<arrow::Field>> fields;
  std::vector<std::shared_ptr<arrow::ChunkedArray>> columns;
  std::set<std::string> names;
  auto add = [&](std::shared_ptr<arrow::Field> field,
                 std::shared_ptr<arrow::ChunkedArray> column) -> Status {
    if (!names.insert(field->name()).second) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "output column '{}' appears twice; ask for full feature names",
                       field->name());
    }
    fields.push_back(std::move(field));
    columns.push_back(std::move(column));
    return Ok();
  };
  int next = 0;
  for (; next < entity_columns; ++next) {
    FALAJ_RETURN_IF_ERROR(add(joined.schema()->field(next), joined.column(next)));
  }
  for (size_t v = 0; v < views.size(); ++v) {
    for (size_t f = 0; f < views[v].selected.size(); ++f) {
      if (!views[v].view.aggregated()) {
        FALAJ_RETURN_IF_ERROR(add(joined.schema()->field(next), joined.column(next)));
        ++next;
        continue;
      }
      const auto& column = aggregated[v][f];
      FALAJ_RETURN_IF_ERROR(add(
          arrow::field(OutputName(views[v], views[v].selected[f].name, full_names), column->type()),
          column));
    }
  }
  return arrow::Table::Make(arrow::schema(std::move(fields)), std::move(columns),
                            joined.num_rows());
}

}  // namespace falaj::features
