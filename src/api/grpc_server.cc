#include "api/grpc_server.h"

#include <arpa/inet.h>
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <cctype>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>

#include "api/grpc_infer_codec.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/random.h"
#include "grpc_predict_v2.grpc.pb.h"
#include "security/rate_limiter.h"

namespace falaj::api {
namespace {

namespace pb = ::inference;

// Handlers block on model loading and on the dynamic batcher, so a batch can only fill with as
// many concurrent calls as there are threads. Beyond this gRPC answers RESOURCE_EXHAUSTED rather
// than growing without bound.
constexpr int kMaxThreads = 64;
constexpr size_t kMaxClientRequestIdLength = 64;
constexpr size_t kMaxAuditedNameLength = 200;
// Longer client deadlines are treated as none, so converting them cannot overflow.
constexpr std::chrono::hours kLongestDeadline{24};

enum class Method {
  kServerLive,
  kServerReady,
  kModelReady,
  kServerMetadata,
  kModelMetadata,
  kModelInfer,
};
constexpr std::array<std::string_view, 6> kMethodNames = {
    "ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata", "ModelInfer"};

std::string_view MethodName(Method method) { return kMethodNames[static_cast<size_t>(method)]; }

// Names of the gRPC status codes, indexed by their numbers, for the metrics label.
constexpr std::array<std::string_view, 17> kStatusCodeNames = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

std::string_view StatusCodeName(grpc::StatusCode code) {
  auto index = static_cast<size_t>(code);
  return index < kStatusCodeNames.size() ? kStatusCodeNames[index] : "UNKNOWN";
}

grpc::Status ToGrpcStatus(const Error& error) {
  return grpc::Status(static_cast<grpc::StatusCode>(GrpcStatusFor(error.code)), error.message);
}

std::string_view ClientMetadata(const grpc::ServerContext& context, std::string_view key) {
  const auto& metadata = context.client_metadata();
  auto found = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (found == metadata.end()) return {};
  return std::string_view(found->second.data(), found->second.size());
}

// The subject CN of the client's certificate, or "" without one. The listener requests
// certificates only "and verify", so a certificate gRPC reports has been verified against the
// client CA.
std::string VerifiedCertificateCn(const grpc::ServerContext& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (!auth || !auth->IsPeerAuthenticated()) return "";
  auto names = auth->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
  return names.empty() ? "" : std::string(names.front().data(), names.front().size());
}

// As the HTTP pipeline: a caller-supplied id is kept only if it cannot inject anything into logs.
bool IsSafeRequestId(std::string_view id) {
  if (id.empty() || id.size() > kMaxClientRequestIdLength) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// gRPC names peers "ipv4:127.0.0.1:5555" or "ipv6:[::1]:5555"; the HTTP server's form is
// without the family prefix.
std::string RemoteAddress(const grpc::ServerContext& context) {
  std::string peer = context.peer();
  for (std::string_view prefix : {"ipv4:", "ipv6:"}) {
    if (peer.starts_with(prefix)) return peer.substr(prefix.size());
  }
  return peer;
}

// "127.0.0.1:5555" → "127.0.0.1"; "[::1]:5555" → "[::1]".
std::string_view ClientHost(std::string_view remote_address) {
  return remote_address.substr(0, remote_address.rfind(':'));
}

bool IsIpAddress(const std::string& host) {
  in6_addr address;
  return inet_pton(AF_INET, host.c_str(), &address) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

Result<std::string> ReadFile(const std::string& path, std::string_view what) {
  std::ifstream file(path, std::ios::binary);
  std::ostringstream contents;
  if (file) contents << file.rdbuf();
  if (!file || contents.str().empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot read TLS {} '{}'", what, path);
  }
  return contents.str();
}

// gRPC only reports an unusable certificate or key as a failure to listen; checking them here
// gives the operator the actual reason.
Status CheckPemPair(const std::string& cert, const std::string& key, const TlsConfig& tls) {
  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(
      BIO_new_mem_buf(cert.data(), static_cast<int>(cert.size())), &BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> x509(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!x509) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot load TLS certificate '{}'",
                     tls.cert_file);
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(
      BIO_new_mem_buf(key.data(), static_cast<int>(key.size())), &BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free);
  if (!pkey) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot load TLS key '{}'", tls.key_file);
  }
  if (X509_check_private_key(x509.get(), pkey.get()) != 1) {
    return MakeError(ErrorCode::kInvalidArgument, "TLS key '{}' does not match certificate '{}'",
                     tls.key_file, tls.cert_file);
  }
  return Ok();
}

Result<std::shared_ptr<grpc::ServerCredentials>> Credentials(const TlsConfig& tls) {
  if (tls.cert_file.empty() && tls.key_file.empty()) return grpc::InsecureServerCredentials();
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "TLS needs both a certificate and a key file");
  }
  FALAJ_ASSIGN_OR_RETURN(std::string cert, ReadFile(tls.cert_file, "certificate"));
  FALAJ_ASSIGN_OR_RETURN(std::string key, ReadFile(tls.key_file, "key"));
  FALAJ_RETURN_IF_ERROR(CheckPemPair(cert, key, tls));
  grpc::SslServerCredentialsOptions options;
  options.pem_key_cert_pairs.push_back({std::move(key), std::move(cert)});
  // The same client-certificate rule as the HTTP listener: with client_auth on, only verified
  // certificates complete the handshake, and Admit maps one's CN to the principal cert:<CN>.
  if (tls.client_auth != "none") {
    FALAJ_ASSIGN_OR_RETURN(options.pem_root_certs, ReadFile(tls.client_ca_file, "client CA"));
    options.client_certificate_request =
        tls.client_auth == "required" ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                      : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

// gRPC's own diagnostics (a failed bind, a failed TLS handshake) go to the structured log
// instead of raw lines on stderr, which would break its one-JSON-object-per-line format.
void LogFromGrpc(gpr_log_func_args* args) {
  nlohmann::json fields = {{"message", args->message}, {"file", args->file}, {"line", args->line}};
  switch (args->severity) {
    case GPR_LOG_SEVERITY_DEBUG:
      log::Debug("grpc", fields);
      break;
    case GPR_LOG_SEVERITY_INFO:
      log::Info("grpc", fields);
      break;
    case GPR_LOG_SEVERITY_ERROR:
      log::Warn("grpc", fields);
      break;
  }
}

// One call in progress: what the audit record and the request log line need.
struct Call {
  Method method;
  grpc::ServerContext& context;
  std::string request_id;
  std::string remote;
  std::optional<security::Principal> principal;
  std::chrono::steady_clock::time_point started;
};

}  // namespace

struct GrpcServer::Impl final : public pb::GRPCInferenceService::Service {
  Impl(const Services& services, metrics::Registry& metrics);

  grpc::Status ServerLive(grpc::ServerContext* context, const pb::ServerLiveRequest*,
                          pb::ServerLiveResponse* response) override;
  grpc::Status ServerReady(grpc::ServerContext* context, const pb::ServerReadyRequest*,
                           pb::ServerReadyResponse* response) override;
  grpc::Status ServerMetadata(grpc::ServerContext* context, const pb::ServerMetadataRequest*,
                              pb::ServerMetadataResponse* response) override;
  grpc::Status ModelReady(grpc::ServerContext* context, const pb::ModelReadyRequest* request,
                          pb::ModelReadyResponse* response) override;
  grpc::Status ModelMetadata(grpc::ServerContext* context, const pb::ModelMetadataRequest* request,
                             pb::ModelMetadataResponse* response) override;
  grpc::Status ModelInfer(grpc::ServerContext* context, const pb::ModelInferRequest* request,
                          pb::ModelInferResponse* response) override;

  // Runs `body` as one call of `method`, answering an escaped exception as INTERNAL, then
  // records metrics and the request log line.
  template <typename Body>
  grpc::Status Run(Method method, grpc::ServerContext* context, Body&& body);

  // Authentication, rate limits and authorisation of `permission` in the project of
  // `model_name`, as the HTTP pipeline does them. The error is the refusal to answer.
  Result<ModelRef> Admit(Call& call, std::string_view permission, std::string_view model_name);
  void Audit(const Call& call, std::string_view permission, std::string_view model_name,
             ErrorCode code);
  void Finish(const Call& call, const grpc::Status& status);

  Services services;
  security::RateLimiter requests_per_principal;
  security::RateLimiter auth_failures_per_address;
  metrics::Family<metrics::Counter>& requests_total;
  // Resolved once per method: the common case must not look up a series.
  std::array<metrics::Counter*, kMethodNames.size()> ok_total{};
  std::array<metrics::Histogram*, kMethodNames.size()> seconds{};

  std::unique_ptr<grpc::Server> server;
  uint16_t port = 0;
  std::mutex stop_mutex;
  bool stopped = false;  // guarded by stop_mutex
};

GrpcServer::Impl::Impl(const Services& services, metrics::Registry& metrics)
    : services(services),
      requests_per_principal(static_cast<double>(services.rate_limits.requests_per_second),
                             static_cast<double>(services.rate_limits.burst)),
      auth_failures_per_address(
          static_cast<double>(services.rate_limits.auth_failures_per_minute) / 60.0,
          static_cast<double>(services.rate_limits.auth_failures_per_minute)),
      requests_total(metrics.AddCounter("falaj_grpc_requests_total",
                                        "KServe v2 gRPC calls answered, by method and status code.",
                                        {"method", "code"})) {
  auto& durations = metrics.AddHistogram(
      "falaj_grpc_request_seconds", "Time from a gRPC call's arrival to its answer, by method.",
      {"method"}, metrics::DefaultLatencyBuckets());
  for (size_t i = 0; i < kMethodNames.size(); ++i) {
    ok_total[i] = &requests_total.WithLabels({kMethodNames[i], "OK"});
    seconds[i] = &durations.WithLabels({kMethodNames[i]});
  }
}

template <typename Body>
grpc::Status GrpcServer::Impl::Run(Method method, grpc::ServerContext* context, Body&& body) {
  Call call{method,       *context,
            {},           RemoteAddress(*context),
            std::nullopt, std::chrono::steady_clock::now()};
  std::string_view client_id = ClientMetadata(*context, "x-request-id");
  call.request_id = IsSafeRequestId(client_id) ? std::string(client_id) : NewRequestId();
  context->AddInitialMetadata("x-request-id", call.request_id);
  grpc::Status status;
  try {
    status = body(call);
  } catch (const std::exception& error) {
    // Services return errors as values; an exception here is a bug, answered as one.
    log::Error("grpc handler threw", {{"request_id", call.request_id}, {"what", error.what()}});
    status = grpc::Status(grpc::StatusCode::INTERNAL, "internal error");
  }
  Finish(call, status);
  return status;
}

Result<ModelRef> GrpcServer::Impl::Admit(Call& call, std::string_view permission,
                                         std::string_view model_name) {
  std::string_view token = security::BearerToken(ClientMetadata(call.context, "authorization"));
  const std::string certificate_cn = VerifiedCertificateCn(call.context);
  if (token.empty() && certificate_cn.empty()) {
    Audit(call, permission, model_name, ErrorCode::kUnauthenticated);
    return MakeError(ErrorCode::kUnauthenticated,
                     "missing 'authorization: Bearer <api key or token>' metadata");
  }
  std::string_view address = ClientHost(call.remote);
  if (!auth_failures_per_address.HasToken(address)) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "too many failed authentications from this address");
  }
  // As over HTTP, a bearer credential wins; without one a verified client certificate's CN
  // names the service.
  auto principal = token.empty() ? security::ClientCertificatePrincipal(certificate_cn)
                                 : services.authenticator.Authenticate(token);
  if (!principal) {
    if (principal.error().code == ErrorCode::kUnauthenticated) {
      (void)auth_failures_per_address.Acquire(address);
    }
    Audit(call, permission, model_name, principal.error().code);
    return std::unexpected(std::move(principal).error());
  }
  call.principal = std::move(*principal);
  if (requests_per_principal.Acquire(call.principal->subject).count() > 0) {
    return MakeError(ErrorCode::kResourceExhausted, "request rate limit exceeded");
  }
  FALAJ_ASSIGN_OR_RETURN(ModelRef model, ParseModelName(model_name));
  auto allowed = services.authorizer.IsAllowed(*call.principal, permission, model.project);
  if (!allowed) return std::unexpected(std::move(allowed).error());
  if (!*allowed) {
    Audit(call, permission, model_name, ErrorCode::kPermissionDenied);
    return MakeError(ErrorCode::kPermissionDenied, "no role in project '{}' grants permission '{}'",
                     model.project, permission);
  }
  return model;
}

void GrpcServer::Impl::Audit(const Call& call, std::string_view permission,
                             std::string_view model_name, ErrorCode code) {
  security::AuditRecord record;
  record.time_ms = ToUnixMillis(SystemClock::Instance().Now());
  record.request_id = call.request_id;
  record.principal = call.principal ? call.principal->subject : "anonymous";
  record.action = permission;
  record.method = "GRPC";
  record.resource = fmt::format("/inference.GRPCInferenceService/{}/{}", MethodName(call.method),
                                model_name.substr(0, kMaxAuditedNameLength));
  // The audit trail speaks HTTP statuses whatever the transport, so one query covers both.
  record.status = HttpStatusFor(code);
  record.source = call.remote;
  record.outcome = record.status == 401 || record.status == 403 ? "denied" : "failed";
  if (Status appended = services.audit.Append(record); !appended) {
    log::Error("audit append failed",
               {{"request_id", call.request_id}, {"error", appended.error().message}});
  }
}

void GrpcServer::Impl::Finish(const Call& call, const grpc::Status& status) {
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - call.started).count();
  auto index = static_cast<size_t>(call.method);
  seconds[index]->Observe(elapsed);
  std::string_view code = StatusCodeName(status.error_code());
  if (status.ok()) {
    ok_total[index]->Increment();
  } else {
    requests_total.WithLabels({MethodName(call.method), code}).Increment();
  }
  if (log::Enabled(log::Level::kInfo)) {
    log::Info("grpc request", {{"request_id", call.request_id},
                               {"method", MethodName(call.method)},
                               {"code", code},
                               {"duration_ms", elapsed * 1000},
                               {"principal", call.principal ? call.principal->subject : ""},
                               {"remote", call.remote}});
  }
}

grpc::Status GrpcServer::Impl::ServerLive(grpc::ServerContext* context,
                                          const pb::ServerLiveRequest*,
                                          pb::ServerLiveResponse* response) {
  return Run(Method::kServerLive, context, [&](Call&) {
    response->set_live(true);
    return grpc::Status::OK;
  });
}

grpc::Status GrpcServer::Impl::ServerReady(grpc::ServerContext* context,
                                           const pb::ServerReadyRequest*,
                                           pb::ServerReadyResponse* response) {
  // The transport only runs once the server is composed, as the HTTP /v2/health/ready route.
  return Run(Method::kServerReady, context, [&](Call&) {
    response->set_ready(true);
    return grpc::Status::OK;
  });
}

grpc::Status GrpcServer::Impl::ServerMetadata(grpc::ServerContext* context,
                                              const pb::ServerMetadataRequest*,
                                              pb::ServerMetadataResponse* response) {
  return Run(Method::kServerMetadata, context, [&](Call&) {
    response->set_name("falaj");
    response->set_version(FALAJ_VERSION);
    return grpc::Status::OK;
  });
}

grpc::Status GrpcServer::Impl::ModelReady(grpc::ServerContext* context,
                                          const pb::ModelReadyRequest* request,
                                          pb::ModelReadyResponse* response) {
  return Run(Method::kModelReady, context, [&](Call& call) {
    auto model = Admit(call, "models.read", request->name());
    if (!model) return ToGrpcStatus(model.error());
    auto version = ParseModelVersion(request->version());
    if (!version) return ToGrpcStatus(version.error());
    Status ready = services.inference.Ready(model->project, model->name, *version);
    // Unknown names are an error; a known model that cannot serve yet is "not ready".
    if (!ready && ready.error().code == ErrorCode::kNotFound) return ToGrpcStatus(ready.error());
    response->set_ready(ready.has_value());
    return grpc::Status::OK;
  });
}

grpc::Status GrpcServer::Impl::ModelMetadata(grpc::ServerContext* context,
                                             const pb::ModelMetadataRequest* request,
                                             pb::ModelMetadataResponse* response) {
  return Run(Method::kModelMetadata, context, [&](Call& call) {
    auto model = Admit(call, "models.read", request->name());
    if (!model) return ToGrpcStatus(model.error());
    auto version = ParseModelVersion(request->version());
    if (!version) return ToGrpcStatus(version.error());
    auto metadata = services.inference.Metadata(model->project, model->name, *version);
    if (!metadata) return ToGrpcStatus(metadata.error());
    EncodeModelMetadata(*metadata, *response);
    return grpc::Status::OK;
  });
}

grpc::Status GrpcServer::Impl::ModelInfer(grpc::ServerContext* context,
                                          const pb::ModelInferRequest* request,
                                          pb::ModelInferResponse* response) {
  return Run(Method::kModelInfer, context, [&](Call& call) {
    auto model = Admit(call, "models.predict", request->model_name());
    if (!model) return ToGrpcStatus(model.error());
    auto version = ParseModelVersion(request->model_version());
    if (!version) return ToGrpcStatus(version.error());
    serving::InferRequest infer;
    infer.received = call.started;
    infer.project = std::move(model->project);
    infer.name = std::move(model->name);
    infer.version = *version;
    if (auto decoded = DecodeInferRequest(*request, infer); !decoded) {
      return ToGrpcStatus(decoded.error());
    }
    if (auto remaining = context->deadline() - std::chrono::system_clock::now();
        context->deadline() != std::chrono::system_clock::time_point::max() &&
        remaining < kLongestDeadline) {
      // The client's deadline, moved onto the steady clock the batcher measures with.
      infer.deadline = std::chrono::steady_clock::now() +
                       std::chrono::duration_cast<std::chrono::steady_clock::duration>(remaining);
    }
    auto answer = services.inference.Infer(infer);
    if (!answer) return ToGrpcStatus(answer.error());
    EncodeInferResponse(std::move(*answer), request->raw_input_contents_size() > 0, *response);
    return grpc::Status::OK;
  });
}

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcServer::~GrpcServer() { Stop(std::chrono::milliseconds(0)); }

Result<std::unique_ptr<GrpcServer>> GrpcServer::Start(std::string_view address,
                                                      const TlsConfig& tls,
                                                      const Services& services,
                                                      metrics::Registry& metrics) {
  FALAJ_ASSIGN_OR_RETURN(auto host_port, ParseListenAddress(address));
  // As the HTTP server: an IP literal, so that binding never waits on (or leaks in) DNS.
  if (!IsIpAddress(host_port.first)) {
    return MakeError(ErrorCode::kInvalidArgument, "gRPC listen host '{}' is not an IP address",
                     host_port.first);
  }
  static std::once_flag log_redirected;
  std::call_once(log_redirected, [] { gpr_set_log_function(&LogFromGrpc); });
  FALAJ_ASSIGN_OR_RETURN(auto credentials, Credentials(tls));
  auto impl = std::make_unique<Impl>(services, metrics);
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, which would let a second server share the port silently.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int bound_port = 0;
  builder.AddListeningPort(std::string(address), credentials, &bound_port);
  builder.RegisterService(impl.get());
  builder.SetMaxReceiveMessageSize(static_cast<int>(kGrpcMaxMessageBytes));
  grpc::ResourceQuota quota("falaj-grpc");
  quota.SetMaxThreads(kMaxThreads);
  builder.SetResourceQuota(quota);
  impl->server = builder.BuildAndStart();
  if (!impl->server || bound_port == 0) {
    return MakeError(ErrorCode::kUnavailable, "cannot listen for gRPC on {}", address);
  }
  impl->port = static_cast<uint16_t>(bound_port);
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

uint16_t GrpcServer::port() const { return impl_->port; }

void GrpcServer::Stop(std::chrono::milliseconds grace) {
  std::lock_guard lock(impl_->stop_mutex);
  if (impl_->stopped) return;
  impl_->stopped = true;
  // Waits for every handler to return; calls still running at the deadline are cancelled.
  impl_->server->Shutdown(std::chrono::system_clock::now() + grace);
  impl_->server->Wait();
}

}  // namespace falaj::api
