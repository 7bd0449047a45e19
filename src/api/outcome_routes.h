// REST routes of the feedback API (docs/prediction-log.md#outcomes), under
// /api/v1/projects/{project}/endpoints/{endpoint}/outcomes:
//   POST  a batch of outcomes {"outcomes": [{"request_id"|"unit_key", "metric", "value",
//         "type", "timestamp_ms", "id"}, …]}: validated (errors name the item and field), joined
//         to logged predictions, stored once each (duplicates are reported, not counted twice);
//         404 for an endpoint that does not exist, so a misspelt one loses nothing silently
//   GET   stored outcomes, by request_id, unit_key or metric, paged with limit/page_token
// Posting needs models.predict, the permission an application's key holds to call the model;
// each post is audited like other data pushes. Reading needs predictions.read.
#pragma once

#include "api/router.h"
#include "monitoring/outcome_store.h"
#include "serving/endpoint_store.h"

namespace falaj::api {

Status AddOutcomeRoutes(Router& router, monitoring::OutcomeStore& outcomes,
                        serving::EndpointStore& endpoints);

}  // namespace falaj::api
