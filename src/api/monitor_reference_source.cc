#include "api/monitor_reference_source.h"

#include <arrow/api.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace falaj::api {
namespace {

// Appends a numeric column's values as doubles (null: NaN). INVALID_ARGUMENT for other types.
template <typename ArrowArray>
void AppendChunk(const arrow::Array& chunk, std::vector<double>& out) {
  const auto& typed = static_cast<const ArrowArray&>(chunk);
  for (int64_t i = 0; i < typed.length(); ++i) {
    out.push_back(typed.IsNull(i) ? std::numeric_limits<double>::quiet_NaN()
                                  : static_cast<double>(typed.Value(i)));
  }
}

Result<std::vector<double>> NumericValues(const std::string& name,
                                          const arrow::ChunkedArray& column) {
  std::vector<double> values;
  values.reserve(static_cast<size_t>(column.length()));
  for (const auto& chunk : column.chunks()) {
    switch (chunk->type_id()) {
      case arrow::Type::DOUBLE:
        AppendChunk<arrow::DoubleArray>(*chunk, values);
        break;
      case arrow::Type::FLOAT:
        AppendChunk<arrow::FloatArray>(*chunk, values);
        break;
      case arrow::Type::INT64:
        AppendChunk<arrow::Int64Array>(*chunk, values);
        break;
      case arrow::Type::INT32:
        AppendChunk<arrow::Int32Array>(*chunk, values);
        break;
      case arrow::Type::INT16:
        AppendChunk<arrow::Int16Array>(*chunk, values);
        break;
      case arrow::Type::INT8:
        AppendChunk<arrow::Int8Array>(*chunk, values);
        break;
      case arrow::Type::UINT32:
        AppendChunk<arrow::UInt32Array>(*chunk, values);
        break;
      case arrow::Type::UINT64:
        AppendChunk<arrow::UInt64Array>(*chunk, values);
        break;
      default:
        return MakeError(ErrorCode::kInvalidArgument,
                         "column '{}' is {}, not numeric: a monitor compares numeric features",
                         name, chunk->type()->ToString());
    }
  }
  return values;
}

}  // namespace

Result<monitoring::ResolvedReference> MonitorReferenceSource::ModelReference(
    std::string_view project, std::string_view endpoint, std::string_view model, int64_t version) {
  std::string model_name(model);
  if (!endpoint.empty()) {
    FALAJ_ASSIGN_OR_RETURN(auto found, endpoints_.Get(project, endpoint));
    if (found.targets.empty()) {
      return MakeError(ErrorCode::kFailedPrecondition, "endpoint '{}' has no target", endpoint);
    }
    const serving::EndpointTarget& target = found.targets.front();
    if (model_name.empty()) model_name = target.model;
    if (version == 0 && target.model == model_name) {
      if (target.version) {
        version = *target.version;
      } else {
        FALAJ_ASSIGN_OR_RETURN(version, registry_.ResolveAlias(project, model_name, target.alias));
      }
    }
  }
  if (model_name.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "a monitor needs a model or an endpoint");
  }
  FALAJ_RETURN_IF_ERROR(registry_.GetModel(project, model_name));
  if (version == 0) {
    FALAJ_ASSIGN_OR_RETURN(auto versions, registry_.ListVersions(project, model_name));
    for (const auto& candidate : versions) version = std::max(version, candidate.version);
    if (version == 0) {
      return MakeError(ErrorCode::kFailedPrecondition, "model '{}' has no version", model_name);
    }
  }
  FALAJ_ASSIGN_OR_RETURN(auto found, registry_.GetVersion(project, model_name, version));
  auto sha = found.tags.find("reference_profile_sha256");
  if (sha == found.tags.end()) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "model '{}' version {} has no training reference profile (only versions "
                     "trained by Falaj have one): name a reference dataset instead",
                     model_name, version);
  }
  FALAJ_ASSIGN_OR_RETURN(auto blobs, artifacts_(project));
  FALAJ_ASSIGN_OR_RETURN(auto text, blobs->Get(sha->second));
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) {
    return MakeError(ErrorCode::kDataLoss,
                     "the reference profile of model '{}' version {} is "
                     "not JSON",
                     model_name, version);
  }
  FALAJ_ASSIGN_OR_RETURN(auto profile, data::ProfileFromJson(json));
  return monitoring::ResolvedReference{{{"kind", "model_version"},
                                        {"model", model_name},
                                        {"version", version},
                                        {"profile_sha256", sha->second}},
                                       std::move(profile)};
}

Result<monitoring::ResolvedReference> MonitorReferenceSource::DatasetReference(
    std::string_view project, std::string_view dataset, int64_t version, int bins) {
  FALAJ_ASSIGN_OR_RETURN(auto found, datasets_.GetVersion(project, dataset, version));
  FALAJ_ASSIGN_OR_RETURN(auto table, datasets_.ReadVersion(project, dataset, found.version));
  if (bins == 0) {
    bins = 1 + static_cast<int>(std::ceil(std::log2(std::max<double>(2, table->num_rows()))));
  }
  FALAJ_ASSIGN_OR_RETURN(auto profile, data::ProfileTable(*table, {std::clamp(bins, 1, 1000), 10}));
  return monitoring::ResolvedReference{
      {{"kind", "dataset"}, {"dataset", std::string(dataset)}, {"version", found.version}},
      std::move(profile)};
}

Result<monitoring::DatasetColumns> MonitorReferenceSource::ReadColumns(
    std::string_view project, std::string_view dataset, int64_t version,
    const std::vector<std::string>& names) {
  FALAJ_ASSIGN_OR_RETURN(auto found, datasets_.GetVersion(project, dataset, version));
  FALAJ_ASSIGN_OR_RETURN(auto table, datasets_.ReadVersion(project, dataset, found.version));
  monitoring::DatasetColumns columns;
  columns.source = {{"dataset", std::string(dataset)}, {"version", found.version}};
  columns.rows = table->num_rows();
  for (const auto& name : names) {
    auto column = table->GetColumnByName(name);
    if (column == nullptr) continue;
    FALAJ_ASSIGN_OR_RETURN(columns.columns[name], NumericValues(name, *column));
  }
  return columns;
}

}  // namespace falaj::api
