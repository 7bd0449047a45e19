// The KServe v2 / Open Inference Protocol over gRPC (proto/grpc_predict_v2.proto): the
// inference.GRPCInferenceService on its own port, beside the HTTP server, calling the same
// serving::InferenceService as the HTTP KServe routes.
//
// Security mirrors the HTTP request pipeline: ServerLive, ServerReady and ServerMetadata are
// public; every other method needs metadata "authorization: Bearer <api key or token>"
// (UNAUTHENTICATED otherwise) and the permission models.read (ModelReady, ModelMetadata) or
// models.predict (ModelInfer) in the project of the addressed "<project>.<name>"
// (PERMISSION_DENIED otherwise). Refusals are audited; failed authentications are throttled per
// client address and requests per principal, with the HTTP limits. Errors are answered with the
// project's one ErrorCode → gRPC status table.
//
// Calls run on gRPC's synchronous server with a bounded number of threads, so handlers may block
// (model loading, the dynamic batcher).
//
// Thread-safety: port() and Stop() may be called from any thread; Stop() more than once is fine.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/config.h"
#include "common/metrics.h"
#include "common/result.h"
#include "security/audit_log.h"
#include "security/authenticator.h"
#include "security/authorizer.h"
#include "serving/inference_service.h"

namespace falaj::api {

class GrpcServer {
 public:
  // Every service must outlive the GrpcServer.
  struct Services {
    serving::InferenceService& inference;
    security::Authenticator& authenticator;
    security::Authorizer& authorizer;
    security::AuditLog& audit;
    // The same limits as the HTTP pipeline (security.rate_limit); pass the configured ones.
    RateLimitConfig rate_limits = {};
  };

  // Listens on `address` ("host:port", port 0 = ephemeral), with TLS when `tls` has a
  // certificate and a key, and starts serving. INVALID_ARGUMENT for a malformed address or
  // unreadable/half-configured TLS files; UNAVAILABLE when the address cannot be bound.
  // Registers falaj_grpc_requests_total and falaj_grpc_request_seconds in `metrics`, which must
  // outlive the server.
  static Result<std::unique_ptr<GrpcServer>> Start(std::string_view address, const TlsConfig& tls,
                                                   const Services& services,
                                                   metrics::Registry& metrics);

  // The bound port (the chosen one when the address asked for port 0).
  uint16_t port() const;

  // Stops accepting calls; calls in flight may finish within `grace`, after which they are
  // cancelled. Returns once every handler has returned.
  void Stop(std::chrono::milliseconds grace);

  // Stops without grace if Stop() was not called.
  ~GrpcServer();

  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

 private:
  struct Impl;
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace falaj::api
