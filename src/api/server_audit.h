// Audit records the server writes on its own account, without a request through the pipeline:
// TLS handshakes refused for a missing or unverified client certificate, and the canary
// controller's rollbacks and promotions. The returned callbacks are thread-safe (the audit log
// and the rate limiter are).
#pragma once

#include "api/http_server.h"
#include "security/audit_log.h"
#include "security/rate_limiter.h"
#include "serving/canary_controller.h"

namespace falaj::api {

// Audits refused handshakes like failed authentications: up to the per-address failure rate, so
// a flood cannot flood the audit log.
HttpServer::CertificateRefused AuditCertificateRefusals(security::AuditLog& audit,
                                                        security::RateLimiter& limiter);

// Audits canary rollbacks and promotions as the controller's own mutations of the endpoint's
// traffic (the why is kept in the endpoint's canary state).
serving::CanaryController::Audit AuditCanaryDecisions(security::AuditLog& audit);

}  // namespace falaj::api
