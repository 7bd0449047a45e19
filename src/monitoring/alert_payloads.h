// What an alert notification says, in the two formats receivers speak:
//   webhook       Falaj's JSON object: {"version": "1", "project", "rule", "series", "state",
//                 "value", "op", "threshold", "severity", "labels", "annotations",
//                 "active_since", "fired_at", "resolved_at" (RFC 3339 or null),
//                 "trigger_job", "generator_url"}
//   Alertmanager  the body of POST /api/v2/alerts: an array of one postableAlert
//                 {"labels": {alertname, project, series, severity, …rule labels},
//                  "annotations": {…rule annotations, value, description},
//                  "startsAt", "endsAt" (resolved alerts only), "generatorURL"}
// Pure; thread-safe.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "monitoring/alert_rule.h"
#include "monitoring/alert_state.h"

namespace falaj::monitoring {

nlohmann::json WebhookPayload(const AlertRule& rule, const Alert& alert,
                              const std::string& generator_url);
nlohmann::json AlertmanagerPayload(const AlertRule& rule, const Alert& alert,
                                   const std::string& generator_url);
// The Alertmanager endpoint under a base URL: "<base>/api/v2/alerts".
std::string AlertmanagerAlertsUrl(const std::string& base);

}  // namespace falaj::monitoring
