#include "monitoring/monitor_spec.h"

#include <cmath>

#include "common/json_fields.h"
#include "common/resource_names.h"
#include "monitoring/duration_text.h"
#include "monitoring/report_builder.h"

namespace falaj::monitoring {
namespace {

Result<int64_t> NonNegative(const nlohmann::json& body, std::string_view field) {
  FALAJ_ASSIGN_OR_RETURN(auto value, json::OptionalInt(body, field));
  if (value && *value < 0) {
    return MakeError(ErrorCode::kInvalidArgument, "{} must be >= 0 (0: the latest)", field);
  }
  return value.value_or(0);
}

Status ParseMutable(const nlohmann::json& body, MonitorSpec& spec) {
  FALAJ_ASSIGN_OR_RETURN(auto description, json::OptionalString(body, "description"));
  if (description) {
    if (description->size() > 4096) {
      return MakeError(ErrorCode::kInvalidArgument, "description is longer than 4096 bytes");
    }
    spec.description = *description;
  }
  if (auto window = body.find("window"); window != body.end()) {
    FALAJ_ASSIGN_OR_RETURN(spec.window_ms,
                           ParseDurationMs(*window, "window", kMinWindowMs, kMaxWindowMs));
  }
  if (body.contains("features")) {
    FALAJ_ASSIGN_OR_RETURN(spec.features, json::StringList(body, "features"));
    if (spec.features.size() > kMaxWatchedFeatures) {
      return MakeError(ErrorCode::kInvalidArgument, "features lists more than {} names",
                       kMaxWatchedFeatures);
    }
    for (const auto& feature : spec.features) {
      FALAJ_RETURN_IF_ERROR(ValidateName("features[]", feature));
    }
  }
  if (auto statistics = body.find("statistics"); statistics != body.end()) {
    if (!statistics->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "statistics must be an object: feature -> {statistic, threshold}");
    }
    spec.statistics.clear();
    for (const auto& [feature, choice] : statistics->items()) {
      FALAJ_RETURN_IF_ERROR(ValidateName("statistics key", feature));
      StatisticOverride override_choice;
      if (choice.is_string()) {
        override_choice.statistic = choice.get<std::string>();
      } else if (choice.is_object()) {
        FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(choice, {"statistic", "threshold"}));
        FALAJ_ASSIGN_OR_RETURN(override_choice.statistic,
                               json::RequiredString(choice, "statistic"));
        if (auto threshold = choice.find("threshold"); threshold != choice.end()) {
          if (!threshold->is_number()) {
            return MakeError(ErrorCode::kInvalidArgument,
                             "statistics.{}.threshold must be a number", feature);
          }
          override_choice.threshold = threshold->get<double>();
        }
      } else {
        return MakeError(ErrorCode::kInvalidArgument,
                         "statistics.{} must be a statistic name or {{statistic, threshold}}",
                         feature);
      }
      FALAJ_RETURN_IF_ERROR(
          ParseStatisticChoice(override_choice.statistic, override_choice.threshold));
      spec.statistics[feature] = std::move(override_choice);
    }
  }
  if (auto share = body.find("drift_share"); share != body.end()) {
    if (!share->is_number() || !std::isfinite(share->get<double>()) || share->get<double>() <= 0 ||
        share->get<double>() > 1) {
      return MakeError(ErrorCode::kInvalidArgument, "drift_share must be a number in (0, 1]");
    }
    spec.drift_share = share->get<double>();
  }
  return Ok();
}

}  // namespace

Result<MonitorSpec> ParseMonitorSpec(const nlohmann::json& body) {
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      body, {"name", "description", "endpoint", "model", "version", "reference", "window",
             "features", "statistics", "drift_share"}));
  MonitorSpec spec;
  FALAJ_ASSIGN_OR_RETURN(spec.name, json::RequiredString(body, "name"));
  FALAJ_RETURN_IF_ERROR(ValidateName("name", spec.name));
  FALAJ_ASSIGN_OR_RETURN(auto endpoint, json::OptionalString(body, "endpoint"));
  FALAJ_ASSIGN_OR_RETURN(auto model, json::OptionalString(body, "model"));
  spec.endpoint = endpoint.value_or("");
  spec.model = model.value_or("");
  if (spec.endpoint.empty() && spec.model.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a monitor watches an endpoint or a model: "
                     "set endpoint, model or both");
  }
  if (!spec.endpoint.empty()) FALAJ_RETURN_IF_ERROR(ValidateName("endpoint", spec.endpoint));
  if (!spec.model.empty()) FALAJ_RETURN_IF_ERROR(ValidateName("model", spec.model));
  FALAJ_ASSIGN_OR_RETURN(spec.version, NonNegative(body, "version"));
  if (auto reference = body.find("reference"); reference != body.end() && !reference->is_null()) {
    if (!reference->is_object()) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "reference must be an object {dataset, version}; omit it to use the "
                       "model version's training reference profile");
    }
    FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(*reference, {"dataset", "version"}));
    FALAJ_ASSIGN_OR_RETURN(spec.reference_dataset, json::RequiredString(*reference, "dataset"));
    FALAJ_RETURN_IF_ERROR(ValidateName("reference.dataset", spec.reference_dataset));
    FALAJ_ASSIGN_OR_RETURN(spec.reference_dataset_version, NonNegative(*reference, "version"));
  }
  FALAJ_RETURN_IF_ERROR(ParseMutable(body, spec));
  return spec;
}

Status ApplyMonitorUpdate(const nlohmann::json& body, MonitorSpec& spec) {
  FALAJ_RETURN_IF_ERROR(json::RejectUnknownFields(
      body, {"description", "window", "features", "statistics", "drift_share", "revision"}));
  return ParseMutable(body, spec);
}

nlohmann::json MonitorSpecToJson(const MonitorSpec& spec) {
  nlohmann::json statistics = nlohmann::json::object();
  for (const auto& [feature, choice] : spec.statistics) {
    statistics[feature] = {
        {"statistic", choice.statistic},
        {"threshold", choice.threshold ? nlohmann::json(*choice.threshold) : nlohmann::json()}};
  }
  nlohmann::json reference;
  if (!spec.reference_dataset.empty()) {
    reference = {{"dataset", spec.reference_dataset}, {"version", spec.reference_dataset_version}};
  }
  return {{"name", spec.name},
          {"description", spec.description},
          {"endpoint", spec.endpoint},
          {"model", spec.model},
          {"version", spec.version},
          {"reference", reference},
          {"window", FormatDurationMs(spec.window_ms)},
          {"features", spec.features},
          {"statistics", statistics},
          {"drift_share", spec.drift_share}};
}

Result<MonitorSpec> MonitorSpecFromJson(const nlohmann::json& json) {
  nlohmann::json body = json;
  if (body["reference"].is_null()) body.erase("reference");
  for (auto& [feature, choice] : body["statistics"].items()) {
    if (choice["threshold"].is_null()) choice.erase("threshold");
  }
  return ParseMonitorSpec(body);
}

}  // namespace falaj::monitoring
