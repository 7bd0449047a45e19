// Native REST routes for experiment tracking under /api/v1/projects/{project}:
//   experiments             list (?view=active|deleted|all), create {name, tags}
//   experiments/{id}        get
//   runs/search             {experiment_ids, filter, order_by, view, max_results, page_token}
//   runs/{run}              get, with params, tags and the latest value of each metric
//   runs/{run}/metrics/{key}  the metric's history (?max_results, page_token)
//   runs/compare            {run_ids}: params and latest metrics side by side, differences marked
// Falaj's JSON conventions (maps for tags and params, RFC 3339 times, Falaj error bodies); the
// filter language is MLflow's (tracking/run_filter.h). Logic lives in TrackingStore.
#pragma once

#include "api/router.h"
#include "tracking/tracking_store.h"

namespace falaj::api {

Status AddTrackingRoutes(Router& router, tracking::TrackingStore& tracking);

}  // namespace falaj::api
