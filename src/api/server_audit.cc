#include "api/server_audit.h"

#include <fmt/format.h>

#include "common/clock.h"
#include "common/logging.h"

namespace falaj::api {
namespace {

// Audit failures must not take the server down with them: they are logged.
void AppendOrLog(security::AuditLog& audit, const security::AuditRecord& record) {
  if (Status appended = audit.Append(record); !appended) {
    log::Error("audit append failed", {{"error", appended.error().message}});
  }
}

}  // namespace

HttpServer::CertificateRefused AuditCertificateRefusals(security::AuditLog& audit,
                                                        security::RateLimiter& limiter) {
  return [&audit, &limiter](std::string_view remote, std::string_view why) {
    if (limiter.Acquire(remote.substr(0, remote.rfind(':'))).count() > 0) return;
    security::AuditRecord record{ToUnixMillis(SystemClock::Instance().Now()),
                                 "",
                                 "anonymous",
                                 "tls.client_certificate",
                                 "TLS",
                                 std::string(why),
                                 401};
    record.source = remote;
    record.outcome = "denied";
    AppendOrLog(audit, record);
  };
}

serving::CanaryController::Audit AuditCanaryDecisions(security::AuditLog& audit) {
  return [&audit](const serving::CanaryController::Decision& decision) {
    security::AuditRecord record{ToUnixMillis(SystemClock::Instance().Now()),
                                 "",
                                 std::string(serving::CanaryController::kPrincipal),
                                 "endpoints.write",
                                 "POST",
                                 fmt::format("/api/v1/projects/{}/endpoints/{}/traffic/{}",
                                             decision.project, decision.endpoint, decision.action),
                                 200};
    record.source = "canary-controller";
    record.outcome = "allowed";
    AppendOrLog(audit, record);
  };
}

}  // namespace falaj::api
