#include "monitoring/monitor_report.h"

#include <fmt/format.h>

namespace falaj::monitoring {
namespace {

bool IsPredictionColumn(const std::string& name) {
  return name == "prediction" || name.starts_with("prediction_");
}

}  // namespace

Result<std::unique_ptr<MonitorDefinition>> MonitorDefinition::Build(MonitorRecord record) {
  auto definition = std::make_unique<MonitorDefinition>();
  FALAJ_ASSIGN_OR_RETURN(auto profile, data::ProfileFromJson(record.reference.at("profile")));
  definition->references = NumericReferences(profile);
  const MonitorSpec& spec = record.spec;
  auto& references = definition->references;
  if (spec.features.empty()) {
    for (const auto& [name, reference] : references) {
      if (!IsPredictionColumn(name)) definition->watched.push_back(&reference);
    }
  } else {
    for (const auto& feature : spec.features) {
      auto found = references.find(feature);
      if (found == references.end()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "feature '{}' is not a numeric column of the monitor's reference",
                         feature);
      }
      definition->watched.push_back(&found->second);
    }
  }
  if (definition->watched.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the reference has no numeric feature with a histogram to monitor");
  }
  if (auto prediction = references.find("prediction"); prediction != references.end()) {
    definition->prediction = &prediction->second;
  }
  for (const auto& [feature, choice] : spec.statistics) {
    if (!references.contains(feature)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "statistics names feature '{}', which the reference does not have", feature);
    }
    FALAJ_ASSIGN_OR_RETURN(definition->choices[feature],
                           ParseStatisticChoice(choice.statistic, choice.threshold));
  }
  definition->record = std::move(record);
  return definition;
}

std::unique_ptr<MonitorWindow> MonitorDefinition::NewWindow(int64_t start_ms) const {
  return std::make_unique<MonitorWindow>(watched, prediction, start_ms);
}

nlohmann::json ComposeReport(const MonitorDefinition& definition, const MonitorWindow& window,
                             int64_t end_ms) {
  auto choice_of = [&](const std::string& name) -> std::optional<StatisticChoice> {
    auto found = definition.choices.find(name);
    if (found == definition.choices.end()) return std::nullopt;
    return found->second;
  };
  nlohmann::json features = nlohmann::json::object();
  nlohmann::json drifted = nlohmann::json::array();
  size_t compared = 0;
  for (size_t i = 0; i < window.features().size(); ++i) {
    const FeatureReference& reference = *window.features()[i];
    auto drift = FeatureDrift(reference, window.feature_profile(i), choice_of(reference.name));
    if (!drift) {
      const NumericWindowProfile& profile = window.feature_profile(i);
      features[reference.name] = {{"error", drift.error().message},
                                  {"current",
                                   {{"rows", profile.count()},
                                    {"missing_rate", profile.missing_rate()},
                                    {"out_of_range", profile.out_of_range()}}}};
      continue;
    }
    ++compared;
    if ((*drift)["drifted"].get<bool>()) drifted.push_back(reference.name);
    features[reference.name] = std::move(*drift);
  }
  const MonitorSpec& spec = definition.record.spec;
  double share = compared == 0 ? 0.0 : static_cast<double>(drifted.size()) / compared;
  nlohmann::json report = {{"monitor", spec.name},
                           {"window_start", window.start_ms()},
                           {"window_end", end_ms},
                           {"rows", window.rows()},
                           {"reference", definition.record.reference.at("source")},
                           {"features", std::move(features)},
                           {"features_compared", compared},
                           {"drifted_features", std::move(drifted)},
                           {"drift_share", share},
                           {"drift_share_threshold", spec.drift_share},
                           {"dataset_drift", compared > 0 && share >= spec.drift_share},
                           {"prediction", nullptr},
                           {"labels", window.labels().Compute()},
                           {"labels_dropped", window.labels().dropped()}};
  if (const NumericWindowProfile* profile = window.prediction_profile();
      profile != nullptr && profile->count() > 0) {
    auto drift = FeatureDrift(*definition.prediction, *profile, choice_of("prediction"));
    report["prediction"] =
        drift ? std::move(*drift) : nlohmann::json{{"error", drift.error().message}};
  }
  return report;
}

std::vector<std::pair<std::string, double>> ReportValues(const std::string& monitor,
                                                         const nlohmann::json& report) {
  std::vector<std::pair<std::string, double>> values;
  const std::string prefix = fmt::format("monitor.{}.", monitor);
  values.emplace_back(prefix + "rows", report["rows"].get<double>());
  if (report["features_compared"].get<size_t>() > 0) {
    values.emplace_back(prefix + "drift_share", report["drift_share"].get<double>());
  }
  for (const auto& [feature, drift] : report["features"].items()) {
    const auto& current = drift["current"];
    values.emplace_back(prefix + "missing_rate." + feature, current["missing_rate"].get<double>());
    values.emplace_back(prefix + "out_of_range." + feature, current["out_of_range"].get<double>());
    if (drift.contains("error")) continue;
    values.emplace_back(prefix + "drift." + feature + ".score", drift["score"].get<double>());
    values.emplace_back(prefix + "drift." + feature + ".drifted",
                        drift["drifted"].get<bool>() ? 1.0 : 0.0);
  }
  const auto& prediction = report["prediction"];
  if (prediction.is_object() && !prediction.contains("error")) {
    values.emplace_back(prefix + "prediction.score", prediction["score"].get<double>());
    values.emplace_back(prefix + "prediction.drifted",
                        prediction["drifted"].get<bool>() ? 1.0 : 0.0);
  }
  for (const auto& [metric, value] : report["labels"].items()) {
    values.emplace_back(prefix + "label." + metric, value.get<double>());
  }
  return values;
}

}  // namespace falaj::monitoring
