// The server's monitoring::ReferenceSource: model versions' training reference profiles from the
// registry and its artifact store, endpoints' served versions from the endpoint store, and
// dataset versions from the dataset store (profiled, or read as numeric columns for a batch
// report). Holds references only; thread-safe because the services it calls are.
#pragma once

#include "data/dataset_store.h"
#include "monitoring/monitor_reference.h"
#include "registry/model_registry.h"
#include "serving/endpoint_store.h"

namespace falaj::api {

class MonitorReferenceSource final : public monitoring::ReferenceSource {
 public:
  MonitorReferenceSource(registry::ModelRegistry& registry, registry::ArtifactStores artifacts,
                         serving::EndpointStore& endpoints, data::DatasetStore& datasets)
      : registry_(registry),
        artifacts_(std::move(artifacts)),
        endpoints_(endpoints),
        datasets_(datasets) {}

  Result<monitoring::ResolvedReference> ModelReference(std::string_view project,
                                                       std::string_view endpoint,
                                                       std::string_view model,
                                                       int64_t version) override;
  Result<monitoring::ResolvedReference> DatasetReference(std::string_view project,
                                                         std::string_view dataset, int64_t version,
                                                         int bins) override;
  Result<monitoring::DatasetColumns> ReadColumns(std::string_view project, std::string_view dataset,
                                                 int64_t version,
                                                 const std::vector<std::string>& names) override;

 private:
  registry::ModelRegistry& registry_;
  registry::ArtifactStores artifacts_;
  serving::EndpointStore& endpoints_;
  data::DatasetStore& datasets_;
};

}  // namespace falaj::api
