#include "api/prediction_log_wiring.h"

#include <algorithm>

namespace falaj::api {
Result<monitoring::PredictionLogOptions> MakePredictionLogOptions(
    const Config& config, projects::ProjectService& projects, security::ProjectKeyring& keyring,
    data::RetentionService& retention) {
  const PredictionLogConfig& settings = config.monitoring.prediction_log;
  monitoring::PredictionLogOptions options;
  options.directory = config.storage.data_dir + "/prediction_logs";
  FALAJ_ASSIGN_OR_RETURN(
      options.sample_rate,
      ParseSampleRate("monitoring.prediction_log.sample_rate", settings.sample_rate));
  for (const auto& entry : settings.endpoint_sample_rates) {
    const size_t equals = entry.find('=');
    FALAJ_ASSIGN_OR_RETURN(options.endpoint_sample_rates[entry.substr(0, equals)],
                           ParseSampleRate("monitoring.prediction_log.endpoint_sample_rates",
                                           entry.substr(equals + 1)));
  }
  options.queue_capacity = static_cast<size_t>(settings.queue_capacity);
  options.flush_interval = std::chrono::milliseconds(settings.flush_interval_ms);
  options.segment_bytes = static_cast<uint64_t>(settings.segment_mb) << 20;
  options.retention_days = settings.retention_days;
  if (settings.encrypt) {
    options.cipher.region = [&projects](std::string_view project) -> Result<std::string> {
      FALAJ_ASSIGN_OR_RETURN(auto found, projects.Get(project));
      return found.region;
    };
    options.cipher.seal = [&keyring](std::string_view project, std::string_view region,
                                     std::string_view object, std::string_view plaintext) {
      return keyring.Encrypt(project, region, object, plaintext);
    };
    options.cipher.open = [&keyring](std::string_view project, std::string_view region,
                                     std::string_view object, std::string_view sealed) {
      return keyring.Decrypt(project, region, object, sealed);
    };
  }
  // Logged inputs may hold any class of data: the policy's most restrictive limit applies.
  options.project_retention_days =
      [&retention](std::string_view project) -> Result<std::optional<int64_t>> {
    FALAJ_ASSIGN_OR_RETURN(auto policy, retention.GetPolicy(project));
    if (!policy) return std::optional<int64_t>();
    std::optional<int64_t> days = policy->default_days;
    for (const auto& [data_class, limit] : policy->classes) {
      days = std::min(days.value_or(limit), limit);
    }
    return days;
  };
  return options;
}

features::ErasureService::Eraser PredictionLogEraser(monitoring::PredictionLog& log,
                                                     monitoring::OutcomeStore& outcomes) {
  return [&log, &outcomes](const features::ErasureRequest& request) -> Result<nlohmann::json> {
    std::vector<std::pair<std::string, std::string>> keys;
    std::vector<std::string> values;
    for (const auto& key : request.keys) {
      keys.emplace_back(key.name, features::EntityKeyText(key.values.at(0)));
      values.push_back(keys.back().second);
    }
    FALAJ_ASSIGN_OR_RETURN(auto erased, log.Erase(request.project, keys));
    FALAJ_ASSIGN_OR_RETURN(int64_t outcomes_removed,
                           outcomes.Erase(request.project, erased.request_ids, values));
    return nlohmann::json{{"records_removed", erased.records_removed},
                          {"segments_rewritten", erased.segments_rewritten},
                          {"outcomes_removed", outcomes_removed}};
  };
}

}  // namespace falaj::api
