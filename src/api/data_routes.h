// REST routes for data under /api/v1/projects/{project}:
//   sources, sources/{source}                        list, create, get, replace, delete
//   sources/{source}/ingest                          upload one CSV or Parquet batch
//   sources/{source}/push                            post JSON rows (applications, external APIs)
//   sources/{source}/pull                            pull a postgresql source (after its watermark)
//   datasets, datasets/{dataset}                     list; a dataset's versions; delete
//   datasets/{dataset}/versions/{version}            one version: schema, profile, report, lineage
//   datasets/{dataset}/versions/{version}/data       download as Parquet or CSV (residency-checked)
// Handlers only translate HTTP; logic is in the data module.
#pragma once

#include "api/router.h"
#include "data/dataset_store.h"
#include "data/ingest_service.h"
#include "data/mqtt_ingest.h"
#include "data/source_store.h"
#include "projects/project_service.h"
#include "security/residency.h"

namespace falaj::api {

struct DataRouteServices {
  data::SourceStore& sources;
  data::DatasetStore& datasets;
  data::IngestService& ingest;
  data::MqttSources& mqtt;
  projects::ProjectService& projects;
  security::ResidencyService& residency;
};

Status AddDataRoutes(Router& router, const DataRouteServices& services);

}  // namespace falaj::api
