// A monitor's compiled form (its reference features, watched list and statistic choices) and
// the report of one window against it: per-feature drift with the numbers behind it, the share
// of drifted features, prediction drift and label metrics, plus the flat values a report
// publishes (MonitoredValues names under "monitor.<name>.").
//
// MonitorDefinition is immutable once built; functions here are pure. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "monitoring/monitor_store.h"
#include "monitoring/monitor_window.h"
#include "monitoring/report_builder.h"

namespace falaj::monitoring {

struct MonitorDefinition {
  MonitorRecord record;
  std::map<std::string, FeatureReference> references;  // every numeric reference column
  std::vector<const FeatureReference*> watched;        // into references
  const FeatureReference* prediction = nullptr;        // the "prediction" column, if any
  std::map<std::string, StatisticChoice> choices;      // per-feature overrides

  // INVALID_ARGUMENT naming a watched or overridden feature the reference lacks.
  static Result<std::unique_ptr<MonitorDefinition>> Build(MonitorRecord record);

  std::unique_ptr<MonitorWindow> NewWindow(int64_t start_ms) const;
};

// The report of `window` (ending at `end_ms`) against `definition`.
nlohmann::json ComposeReport(const MonitorDefinition& definition, const MonitorWindow& window,
                             int64_t end_ms);

// (name, value) pairs to publish: "monitor.<m>.drift_share", ".drift.<f>.score",
// ".drift.<f>.drifted", ".missing_rate.<f>", ".out_of_range.<f>", ".prediction.score",
// ".label.<metric>", ".rows".
std::vector<std::pair<std::string, double>> ReportValues(const std::string& monitor,
                                                         const nlohmann::json& report);

}  // namespace falaj::monitoring
