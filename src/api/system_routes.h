// Routes about the server itself: /healthz (alive), /readyz (storage open and migrated),
// /metrics (Prometheus) and /api/v1/openapi.yaml (the REST contract). All public and inline:
// none of them blocks.
#pragma once

#include <atomic>

#include "api/router.h"
#include "common/metrics.h"

namespace falaj::api {

// `ready` is read at each /readyz; the caller flips it once storage is open.
Status AddSystemRoutes(Router& router, const std::atomic<bool>& ready,
                       const metrics::Registry& metrics);

// The OpenAPI document compiled into the binary from api/openapi.yaml.
std::string_view OpenApiDocument();

}  // namespace falaj::api
