// TrainingService::Prepare: loads a spec's data, resolves the default features and split method,
// and splits.
#include <arrow/api.h>

#include <algorithm>
#include <set>

#include "data/arrow_columns.h"
#include "features/training_sets.h"
#include "training/training_service.h"

namespace falaj::training {
namespace {

bool IsTimestamp(const arrow::Field& field) { return field.type()->id() == arrow::Type::TIMESTAMP; }

// The time column: the spec's, else the entity timestamp (feature services), else
// "event_timestamp", else the first timestamp column; "" when the table has none.
std::string TimeColumn(const arrow::Schema& schema, const TrainingSpec& spec) {
  if (!spec.split.time_column.empty()) return spec.split.time_column;
  if (!spec.feature_service.empty() && schema.GetFieldByName(spec.entity_timestamp_column)) {
    return spec.entity_timestamp_column;
  }
  if (schema.GetFieldByName("event_timestamp")) return "event_timestamp";
  for (const auto& field : schema.fields()) {
    if (IsTimestamp(*field)) return field->name();
  }
  return "";
}

// Every numeric or bool column except the label, the group, the time column and, for a feature
// service, the entity dataset's columns (join keys and whatever else the entity rows carry).
std::vector<std::string> DefaultFeatures(const arrow::Schema& schema, const TrainingSpec& spec,
                                         const std::set<std::string>& excluded) {
  std::vector<std::string> features;
  for (const auto& field : schema.fields()) {
    const auto family = data::FamilyOf(*field->type());
    const bool usable = data::IsNumeric(family) || family == data::ColumnFamily::kBool;
    const std::string& name = field->name();
    if (usable && name != spec.label && name != spec.group && name != spec.split.time_column &&
        !excluded.contains(name)) {
      features.push_back(name);
    }
  }
  return features;
}

}  // namespace

TrainingService::TrainingService(data::DatasetStore& datasets, features::FeatureRegistry* features,
                                 features::TrainingSetBuilder* training_sets,
                                 tracking::TrackingStore& tracking,
                                 registry::ModelRegistry& registry,
                                 storage::ProjectBlobStores artifacts)
    : datasets_(datasets),
      features_(features),
      training_sets_(training_sets),
      tracking_(tracking),
      registry_(registry),
      artifacts_(std::move(artifacts)) {}

Result<PreparedTraining> TrainingService::Prepare(std::string_view project,
                                                  const nlohmann::json& spec_json,
                                                  TaskContext& context) {
  PreparedTraining prepared;
  FALAJ_ASSIGN_OR_RETURN(prepared.spec, ParseTrainingSpec(spec_json));
  TrainingSpec& spec = prepared.spec;
  std::shared_ptr<arrow::Table> table;
  std::set<std::string> excluded;
  if (!spec.feature_service.empty()) {
    if (training_sets_ == nullptr || features_ == nullptr) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "data.feature_service: this server does not build training sets");
    }
    FALAJ_ASSIGN_OR_RETURN(auto entities,
                           datasets_.GetVersion(project, spec.entity_dataset, spec.entity_version));
    for (const auto& column : entities.schema.columns) excluded.insert(column.name);
    context.Log(fmt::format("building the training set of feature service '{}' on '{}' v{}",
                            spec.feature_service, spec.entity_dataset, entities.version));
    features::TrainingSetRequest request;
    request.project = std::string(project);
    request.feature_service = spec.feature_service;
    request.entity_dataset = spec.entity_dataset;
    request.entity_version = entities.version;
    request.entity_timestamp_column = spec.entity_timestamp_column;
    request.output = spec.feature_service + ".training";
    request.principal = "training";
    // The service's definition version, read just before the build resolves the same service.
    FALAJ_ASSIGN_OR_RETURN(auto service,
                           features_->Get(project, "feature_service", spec.feature_service, 0));
    FALAJ_ASSIGN_OR_RETURN(auto built, training_sets_->Build(request));
    FALAJ_ASSIGN_OR_RETURN(table, datasets_.ReadVersion(project, built.dataset, built.version));
    prepared.data_lineage = built.lineage;
    prepared.data_lineage["training_set"] = {{"dataset", built.dataset},
                                             {"version", built.version}};
    prepared.data_lineage["feature_service_version"] = service.version;
  } else {
    FALAJ_ASSIGN_OR_RETURN(auto version,
                           datasets_.GetVersion(project, spec.dataset, spec.dataset_version));
    FALAJ_ASSIGN_OR_RETURN(table, datasets_.ReadUpTo(project, spec.dataset, version.version));
    prepared.data_lineage = {{"dataset", spec.dataset}, {"version", version.version}};
  }
  const arrow::Schema& schema = *table->schema();
  const std::string time_column = TimeColumn(schema, spec);
  if (!spec.split_method) {
    spec.split_method = !time_column.empty() ? SplitMethod::kTime
                        : spec.task == Task::kBinary || spec.task == Task::kMulticlass
                            ? SplitMethod::kStratified
                            : SplitMethod::kRandom;
  }
  if (*spec.split_method == SplitMethod::kTime && time_column.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "split.method: time needs a timestamp column or split.time_column");
  }
  if (*spec.split_method == SplitMethod::kTime) spec.split.time_column = time_column;
  spec.split.method = *spec.split_method;
  if (spec.features.empty()) {
    for (const auto& field : schema.fields()) {
      if (IsTimestamp(*field)) excluded.insert(field->name());
    }
    spec.features = DefaultFeatures(schema, spec, excluded);
    if (spec.features.empty()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "features: the data has no numeric columns "
                       "besides the label");
    }
  }
  PrepareOptions options{spec.label, spec.features,  spec.group,
                         spec.task,  spec.num_class, spec.split};
  auto data = PrepareData(*table, options);
  if (!data) {
    // Name the field: a column problem is one of the spec's columns.
    return MakeError(data.error().code, "data: {}", data.error().message);
  }
  prepared.data = std::move(*data);
  context.Log(
      fmt::format("{} rows: {} train, {} validation, {} test ({} split, {} dropped "
                  "without a label); {} features",
                  table->num_rows(), prepared.data.train.rows, prepared.data.validation.rows,
                  prepared.data.test.rows, SplitMethodName(spec.split.method),
                  prepared.data.dropped_rows, spec.features.size()));
  return prepared;
}

}  // namespace falaj::training
