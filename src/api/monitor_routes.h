// REST routes for monitors under /api/v1/projects/{project}/monitors:
//   GET    /monitors                              list
//   POST   /monitors                              create (monitoring/monitor_spec.h)
//   GET    /monitors/{monitor}                    one monitor
//   PATCH  /monitors/{monitor}                    update window, features, statistics,
//                                                 drift_share, description (optional revision)
//   DELETE /monitors/{monitor}                    delete with its reports
//   GET    /monitors/{monitor}/reports            newest first (?limit=)
//   POST   /monitors/{monitor}/reports            batch report {dataset, version}
//   GET    /monitors/{monitor}/reports/{report}   one report in full
//   POST   /monitors/{monitor}/windows/close      close the open window now; answers its report
// Logic lives in monitoring::MonitorService; this file maps JSON.
#pragma once

#include "api/router.h"
#include "monitoring/monitor_service.h"

namespace falaj::api {

Status AddMonitorRoutes(Router& router, monitoring::MonitorService& monitors);

}  // namespace falaj::api
