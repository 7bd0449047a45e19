// REST routes for alerts under /api/v1/projects/{project}/alerts:
//   GET    /alerts/rules          list rules
//   POST   /alerts/rules          create a rule (monitoring/alert_rule.h)
//   GET    /alerts/rules/{rule}   one rule
//   PUT    /alerts/rules/{rule}   replace a rule (optional revision); its alerts start over
//   DELETE /alerts/rules/{rule}   delete a rule and its alerts
//   GET    /alerts                current alerts (?state=pending|firing|resolved)
// Logic lives in monitoring::AlertService; this file maps JSON.
#pragma once

#include "api/router.h"
#include "monitoring/alert_service.h"

namespace falaj::api {

Status AddAlertRoutes(Router& router, monitoring::AlertService& alerts);

}  // namespace falaj::api
