// REST routes for data residency of one project:
//   /api/v1/projects/{project}/transfer-policies[/{region}]   legal bases for cross-region moves
//   /api/v1/projects/{project}/restricted-classes             classes that never leave
//   /api/v1/projects/{project}/transfer-checks                a decision, audited (403 if denied)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "api/router.h"
#include "projects/project_service.h"
#include "security/residency.h"

namespace falaj::api {

Status AddResidencyRoutes(Router& router, security::ResidencyService& residency,
                          projects::ProjectService& projects);

// For routes that send a project's data out (downloads): the request's `to_region` query
// parameter names where it goes (absent: the project's own region). Outside the project's region,
// unclassified data and every class in `classes` must each be allowed by a transfer policy;
// otherwise PERMISSION_DENIED with the reason (and the request is audited as denied, since such
// routes are audited).
Status CheckOutboundTransfer(security::ResidencyService& residency,
                             projects::ProjectService& projects, const HttpRequest& request,
                             std::string_view project, std::vector<std::string> classes);

// Whether this node (in `node_region`; "" when undeclared) may serve `project`'s models: the
// decision when it may, PERMISSION_DENIED naming both regions when the project is pinned
// elsewhere and no transfer policy covers the node's region. Endpoint routes check it before a
// change and the predictor again whenever it looks a route up, so withdrawing a policy stops
// serving as well.
Result<security::TransferDecision> CheckNodeRegion(security::ResidencyService& residency,
                                                   projects::ProjectService& projects,
                                                   std::string_view project,
                                                   std::string_view node_region);

// For routes that make this node load a project's models (endpoint create and update): a node
// of another region than the project's needs a transfer policy for the node's region. Returns
// the legal basis ("same-region" within the region, "" when the node's region is undeclared);
// PERMISSION_DENIED naming both regions otherwise. Cross-region approvals are logged with their
// basis and the request id (the request itself is audited by the pipeline).
Result<std::string> CheckDeployment(security::ResidencyService& residency,
                                    projects::ProjectService& projects, const HttpRequest& request,
                                    std::string_view node_region);

}  // namespace falaj::api
