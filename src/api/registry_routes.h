// REST routes for the model registry under /api/v1/projects/{project}:
//   POST artifacts                                   upload one file (raw body) → its SHA-256
//   models, models/{model}                           list, create, get, update, delete
//   models/{model}/versions[/{version}]              register (signed), list, get, status, delete
//   models/{model}/versions/{version}/files/{path}   download (path percent-encoded, '/' as %2F;
//                                                    ?to_region= is residency-checked)
//   models/{model}/versions/{version}/verify         re-read every file and check the signature
//   models/{model}/aliases/{alias}                   set, get, delete
// {version} is a number or an alias. Handlers only translate JSON; logic is in ModelRegistry.
#pragma once

#include <functional>
#include <string>

#include "api/router.h"
#include "projects/project_service.h"
#include "registry/model_registry.h"
#include "security/residency.h"

namespace falaj::api {

// Called with (project, model) after any successful change to a model's versions or aliases,
// so that caches of "which version serves" (the model manager's) drop their entry at once.
using ModelChanged = std::function<void(const std::string& project, const std::string& model)>;

// Downloads are residency-checked (`?to_region=`) and audited.
Status AddRegistryRoutes(Router& router, registry::ModelRegistry& registry,
                         registry::ArtifactStores artifacts, ModelChanged on_change,
                         security::ResidencyService& residency, projects::ProjectService& projects);

}  // namespace falaj::api
