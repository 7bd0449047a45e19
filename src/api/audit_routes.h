// REST routes for the audit trail:
//   GET /api/v1/audit                       every record (platform administrators)
//   GET /api/v1/audit/verify                walk the hash chain and checkpoints
//   GET /api/v1/projects/{project}/audit    the records about one project (auditors, admins)
// Query parameters: from_ms, to_ms, principal, resource_prefix, limit (1–1000, default 100).
#pragma once

#include <string>

#include "api/router.h"
#include "security/audit_log.h"

namespace falaj::api {

// `public_key_raw` is the server's Ed25519 audit key (32 bytes) that checkpoints are verified
// against.
Status AddAuditRoutes(Router& router, security::AuditLog& audit, std::string public_key_raw);

}  // namespace falaj::api
