// How the server assembles the prediction log from its configuration and services: records
// sealed under each project's data key (bound to its region), segments kept as long as the
// project's retention policy allows, and the eraser that removes an entity's logged predictions
// and outcomes when the erasure API is called. Stateless functions; what they return captures
// the services by reference, so those must outlive it.
#pragma once

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "data/retention.h"
#include "features/erasure.h"
#include "monitoring/outcome_store.h"
#include "monitoring/prediction_log.h"
#include "projects/project_service.h"
#include "security/envelope.h"

namespace falaj::api {

// INVALID_ARGUMENT for a malformed sampling rate (ValidateConfig has checked them already).
Result<monitoring::PredictionLogOptions> MakePredictionLogOptions(
    const Config& config, projects::ProjectService& projects, security::ProjectKeyring& keyring,
    data::RetentionService& retention);

// The "prediction_logs" eraser: the entity's records (by entity keys, or a unit key equal to one
// of its values) and the outcomes of those requests and units.
features::ErasureService::Eraser PredictionLogEraser(monitoring::PredictionLog& log,
                                                     monitoring::OutcomeStore& outcomes);

}  // namespace falaj::api
