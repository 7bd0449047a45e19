// REST routes that read and purge the prediction log (docs/prediction-log.md), under
// /api/v1/projects/{project}/endpoints/{endpoint}:
//   GET  predictions    logged predictions (inputs, outputs, version, arm, latency, request id),
//                       by request_id, unit_key or since (Unix ms), paged with limit/page_token
//   GET  prediction-log the log's counters (written, dropped, bytes) and the endpoint's segments
//   DELETE predictions  purges the endpoint's logged predictions and outcomes (also once the
//                       endpoint itself is deleted, the normal order before deleting a project);
//                       endpoint "@models" purges the predictions of models called directly
// Reading predictions exposes model inputs: it needs predictions.read. Purging deletes personal
// data wholesale, like a data-subject erasure: it needs erasures.write (admins).
#pragma once

#include <cstddef>

#include "api/http_types.h"
#include "api/router.h"
#include "monitoring/outcome_store.h"
#include "monitoring/prediction_log.h"

namespace falaj::api {

inline constexpr size_t kMaxLogPageSize = 1000;

// The "limit" query parameter: 1 to kMaxLogPageSize, 100 when absent.
Result<size_t> LogPageLimit(const HttpRequest& request);

Status AddPredictionLogRoutes(Router& router, monitoring::PredictionLog& log,
                              monitoring::OutcomeStore& outcomes);

}  // namespace falaj::api
