// REST routes for the feature store under /api/v1/projects/{project}:
//   feature-definitions                       list the latest definitions; apply a set (dry run:
//                                             the changes without recording them)
//   feature-definitions/{kind}/{name}         one definition (?version=N), and …/versions
//   training-sets                             build a point-in-time-correct training dataset
//   features/materialize                      copy views' latest rows into the online store
//   features/online                           read online features for entity keys (Feast-like)
// Handlers only translate HTTP; logic is in the features module.
#pragma once

#include "api/router.h"
#include "features/feature_registry.h"
#include "features/materializer.h"
#include "features/online_features.h"
#include "features/training_sets.h"

namespace falaj::api {

struct FeatureRouteServices {
  features::FeatureRegistry& registry;
  features::TrainingSetBuilder& training_sets;
  features::Materializer& materializer;
  features::OnlineFeatures& online;
};

Status AddFeatureRoutes(Router& router, const FeatureRouteServices& services);

}  // namespace falaj::api
