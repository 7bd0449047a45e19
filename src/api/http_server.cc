#include "api/http_server.h"

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/logging.h"

namespace falaj::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::as_tuple;
using asio::use_awaitable;

constexpr size_t kHeaderLimitBytes = 16 * 1024;
constexpr size_t kFirstReadBytes = 4096;
// After refusing a request mid-body, keep reading for a moment so the client sees the answer
// instead of a connection reset.
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr auto kDrainPollInterval = std::chrono::milliseconds(20);

// What Stop() needs to reach a live connection: its strand, its stream, and whether it is in the
// middle of a request.
struct Connection {
  explicit Connection(asio::any_io_executor strand) : strand(std::move(strand)) {}
  // Fixed at creation, so Stop() can reach the strand from any thread.
  const asio::any_io_executor strand;
  // Only read or written on the connection's strand: the stream lives in the connection's
  // coroutine frame (inside a TLS wrapper or not), and is null before it exists and after.
  beast::tcp_stream* stream = nullptr;
  std::atomic<bool> busy{false};
};

// The subject CN of the peer's certificate when OpenSSL verified it against the client CAs; ""
// when there is none (or it has no CN). The pipeline decides whether the CN is usable.
std::string VerifiedClientCommonName(SSL* ssl) {
  X509* certificate = SSL_get0_peer_certificate(ssl);
  if (certificate == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return "";
  X509_NAME* subject = X509_get_subject_name(certificate);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) return "";
  unsigned char* utf8 = nullptr;
  int length =
      ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
  if (length < 0) return "";
  std::string common_name(reinterpret_cast<char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  return common_name;
}

// Whether a failed handshake was the client certificate's fault (absent or not verified), as
// opposed to scanners, plain HTTP on the TLS port or dropped connections, which are not audited.
std::optional<std::string> CertificateRefusal(const beast::error_code& error) {
  if (error.category() != asio::error::get_ssl_category()) return std::nullopt;
  int reason = ERR_GET_REASON(static_cast<unsigned long>(error.value()));
  if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) return "no client certificate";
  if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) return "client certificate not verified";
  return std::nullopt;
}

HttpRequest ToHttpRequest(http::request<http::string_body>&& request, std::string remote) {
  HttpRequest converted;
  converted.method = std::string(request.method_string());
  std::string_view target = request.target();
  auto question = target.find('?');
  converted.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos)
    converted.query = std::string(target.substr(question + 1));
  for (const auto& field : request) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    converted.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  converted.body = std::move(request.body());
  converted.remote_address = std::move(remote);
  return converted;
}

http::response<http::string_body> ToBeastResponse(HttpResponse&& response, unsigned version,
                                                  bool keep_alive, std::string_view request_id) {
  http::response<http::string_body> converted{static_cast<http::status>(response.status), version};
  converted.set(http::field::server, "falaj");
  converted.set(http::field::content_type, response.content_type);
  if (!request_id.empty()) converted.set("X-Request-Id", request_id);
  for (auto& [name, value] : response.headers) converted.set(name, value);
  converted.keep_alive(keep_alive);
  converted.body() = std::move(response.body);
  converted.prepare_payload();
  return converted;
}

// Parse failures that deserve an answer; anything else (EOF, timeout, reset) just closes.
std::optional<Error> ParseErrorAnswer(const beast::error_code& error, int64_t body_limit) {
  if (error == http::error::body_limit) {
    return Error{ErrorCode::kPayloadTooLarge,
                 fmt::format("request body exceeds the limit of {} bytes", body_limit)};
  }
  if (error == http::error::header_limit) {
    return Error{ErrorCode::kPayloadTooLarge,
                 fmt::format("request headers exceed the limit of {} bytes", kHeaderLimitBytes)};
  }
  if (error.category() == beast::error_code(http::error::end_of_stream).category() &&
      error != http::error::end_of_stream && error != http::error::partial_message) {
    return Error{ErrorCode::kInvalidArgument,
                 fmt::format("malformed HTTP request: {}", error.message())};
  }
  return std::nullopt;
}

}  // namespace

struct HttpServer::Impl {
  Impl(const ServerConfig& server_config, RequestPipeline& request_pipeline,
       CertificateRefused certificate_refused)
      : config(server_config),
        pipeline(request_pipeline),
        on_certificate_refused(std::move(certificate_refused)),
        workers(static_cast<size_t>(server_config.worker_threads)),
        acceptor(io) {}

  Status Start();
  Status LoadTls();
  void Stop();
  asio::awaitable<void> Accept();
  template <typename Stream>
  asio::awaitable<void> Serve(Stream& stream, Connection& connection, std::string remote,
                              std::string client_common_name = "");
  asio::awaitable<void> RunConnection(tcp::socket socket);
  asio::awaitable<void> Drain();
  template <typename Stream>
  asio::awaitable<void> Refuse(Stream& stream, beast::flat_buffer& buffer, HttpRequest request,
                               const Error& error);

  const ServerConfig config;
  RequestPipeline& pipeline;
  const CertificateRefused on_certificate_refused;
  asio::io_context io;
  asio::thread_pool workers;
  std::optional<asio::ssl::context> ssl;
  tcp::acceptor acceptor;
  std::atomic<bool> stopping{false};
  uint16_t bound_port = 0;

  std::mutex connections_mutex;
  // Guarded by connections_mutex.
  std::map<uint64_t, std::shared_ptr<Connection>> connections;
  uint64_t next_connection_id = 0;  // guarded by connections_mutex
};

Status HttpServer::Impl::Start() {
  auto address = ParseListenAddress(config.listen);
  if (!address) return std::unexpected(address.error());
  if (!config.tls.cert_file.empty()) FALAJ_RETURN_IF_ERROR(LoadTls());
  beast::error_code error;
  auto ip = asio::ip::make_address(address->first, error);
  if (error) {
    return MakeError(ErrorCode::kInvalidArgument, "listen host '{}' is not an IP address",
                     address->first);
  }
  tcp::endpoint endpoint(ip, address->second);
  acceptor.open(endpoint.protocol(), error);
  if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
  if (!error) acceptor.bind(endpoint, error);
  if (!error) acceptor.listen(asio::socket_base::max_listen_connections, error);
  if (error) {
    return MakeError(ErrorCode::kUnavailable, "cannot listen on {}: {}", config.listen,
                     error.message());
  }
  bound_port = acceptor.local_endpoint().port();
  asio::co_spawn(io, Accept(), asio::detached);
  return Ok();
}

Status HttpServer::Impl::LoadTls() {
  ssl.emplace(asio::ssl::context::tls_server);
  ssl->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  beast::error_code error;
  ssl->use_certificate_chain_file(config.tls.cert_file, error);
  if (error) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot load TLS certificate '{}': {}",
                     config.tls.cert_file, error.message());
  }
  ssl->use_private_key_file(config.tls.key_file, asio::ssl::context::pem, error);
  if (error) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot load TLS key '{}': {}",
                     config.tls.key_file, error.message());
  }
  if (config.tls.client_auth == "none") return Ok();
  ssl->load_verify_file(config.tls.client_ca_file, error);
  STACK_OF(X509_NAME)* names =
      error ? nullptr : SSL_load_client_CA_file(config.tls.client_ca_file.c_str());
  if (names == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot load TLS client CA file '{}': {}",
                     config.tls.client_ca_file, error ? error.message() : "no certificates");
  }
  // Tells clients which CAs are accepted, so they pick the right certificate.
  SSL_CTX_set_client_CA_list(ssl->native_handle(), names);
  // "optional" still refuses a certificate that is sent but does not verify.
  ssl->set_verify_mode(config.tls.client_auth == "required"
                           ? asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert
                           : asio::ssl::verify_peer);
  return Ok();
}

asio::awaitable<void> HttpServer::Impl::Accept() {
  while (!stopping) {
    auto [error, socket] =
        co_await acceptor.async_accept(asio::make_strand(io), as_tuple(use_awaitable));
    if (error) {
      if (error == asio::error::operation_aborted || stopping) co_return;
      log::Warn("accept failed", {{"error", error.message()}});
      continue;
    }
    auto executor = socket.get_executor();
    asio::co_spawn(executor, RunConnection(std::move(socket)), [](std::exception_ptr failure) {
      if (!failure) return;
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& exception) {
        log::Error("connection failed", {{"what", exception.what()}});
      }
    });
  }
}

asio::awaitable<void> HttpServer::Impl::RunConnection(tcp::socket socket) {
  beast::error_code ignored;
  auto peer = socket.remote_endpoint(ignored);
  std::string remote = peer.address().to_string() + ":" + std::to_string(peer.port());
  auto connection = std::make_shared<Connection>(socket.get_executor());
  beast::tcp_stream plain(std::move(socket));

  uint64_t id;
  {
    std::lock_guard lock(connections_mutex);
    id = next_connection_id++;
    connections.emplace(id, connection);
  }
  if (ssl) {
    beast::ssl_stream<beast::tcp_stream> secure(std::move(plain), *ssl);
    connection->stream = &beast::get_lowest_layer(secure);
    beast::get_lowest_layer(secure).expires_after(
        std::chrono::seconds(config.header_timeout_seconds));
    auto [error] =
        co_await secure.async_handshake(asio::ssl::stream_base::server, as_tuple(use_awaitable));
    if (auto refusal = error ? CertificateRefusal(error) : std::nullopt;
        refusal && on_certificate_refused) {
      // Auditing writes to storage: not on the I/O thread.
      asio::post(workers, [this, remote, why = *refusal] { on_certificate_refused(remote, why); });
    }
    if (!error) {
      co_await Serve(secure, *connection, remote, VerifiedClientCommonName(secure.native_handle()));
      beast::get_lowest_layer(secure).expires_after(std::chrono::seconds(1));
      co_await secure.async_shutdown(as_tuple(use_awaitable));
    }
    // No suspension between here and the end of `secure`: Stop()'s cancel, which runs on this
    // strand, sees either a live stream or none.
    connection->stream = nullptr;
  } else {
    connection->stream = &plain;
    co_await Serve(plain, *connection, remote);
    plain.socket().shutdown(tcp::socket::shutdown_send, ignored);
    connection->stream = nullptr;
  }
  std::lock_guard lock(connections_mutex);
  connections.erase(id);
}

template <typename Stream>
asio::awaitable<void> HttpServer::Impl::Serve(Stream& stream, Connection& connection,
                                              std::string remote, std::string client_common_name) {
  beast::flat_buffer buffer;
  beast::tcp_stream& socket = beast::get_lowest_layer(stream);
  for (bool first_request = true;; first_request = false) {
    connection.busy = false;
    if (stopping) co_return;
    if (buffer.size() == 0) {
      // A new connection must start its request within the header timeout (or it could hold a
      // connection open for free); between kept-alive requests the idle timeout applies.
      socket.expires_after(std::chrono::seconds(first_request ? config.header_timeout_seconds
                                                              : config.idle_timeout_seconds));
      auto [error, read] =
          co_await stream.async_read_some(buffer.prepare(kFirstReadBytes), as_tuple(use_awaitable));
      if (error) co_return;
      buffer.commit(read);
    }
    connection.busy = true;

    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimitBytes);
    // The body limit is applied once the headers are in, so that an oversized request is still
    // answered with its own X-Request-Id, method and path.
    parser.body_limit(boost::none);
    socket.expires_after(std::chrono::seconds(config.header_timeout_seconds));
    auto [header_error, header_bytes] =
        co_await http::async_read_header(stream, buffer, parser, as_tuple(use_awaitable));
    beast::error_code error = header_error;
    const auto limit = static_cast<uint64_t>(config.body_limit_bytes);
    if (!error && parser.content_length().value_or(0) > limit) error = http::error::body_limit;
    if (!error && !parser.is_done()) {
      parser.body_limit(limit);
      socket.expires_after(std::chrono::seconds(config.body_timeout_seconds));
      auto [body_error, body_bytes] =
          co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
      error = body_error;
    }
    if (error) {
      HttpRequest partial;
      partial.remote_address = remote;
      if (parser.is_header_done()) {
        partial = ToHttpRequest(parser.release(), remote);
        partial.body.clear();
      }
      if (auto answer = ParseErrorAnswer(error, config.body_limit_bytes)) {
        co_await Refuse(stream, buffer, std::move(partial), *answer);
      }
      co_return;
    }

    auto beast_request = parser.release();
    unsigned version = beast_request.version();
    bool keep_alive = beast_request.keep_alive();
    HttpRequest request = ToHttpRequest(std::move(beast_request), remote);
    request.client_certificate_cn = client_common_name;
    RouteMatch match = pipeline.Resolve(request);
    HttpResponse response;
    std::optional<HttpResponse> fast;
    if (match.route == nullptr || match.route->execution == Execution::kInline) {
      response = pipeline.Handle(request, match);
    } else if ((fast = pipeline.TryHandleWithoutBlocking(request, match))) {
      response = std::move(*fast);
    } else {
      response = co_await asio::co_spawn(
          workers,
          [&]() -> asio::awaitable<HttpResponse> { co_return pipeline.Handle(request, match); },
          use_awaitable);
    }
    keep_alive = keep_alive && !stopping;
    auto answer = ToBeastResponse(std::move(response), version, keep_alive, request.request_id);
    socket.expires_after(std::chrono::seconds(config.body_timeout_seconds));
    auto [write_error, written] =
        co_await http::async_write(stream, answer, as_tuple(use_awaitable));
    if (write_error || !keep_alive) co_return;
  }
}

template <typename Stream>
asio::awaitable<void> HttpServer::Impl::Refuse(Stream& stream, beast::flat_buffer& buffer,
                                               HttpRequest request, const Error& error) {
  HttpResponse response = pipeline.Refuse(request, error);
  auto answer = ToBeastResponse(std::move(response), 11, false, request.request_id);
  beast::tcp_stream& socket = beast::get_lowest_layer(stream);
  socket.expires_after(kLingerTime);
  auto [write_error, written] = co_await http::async_write(stream, answer, as_tuple(use_awaitable));
  if (write_error) co_return;
  beast::error_code ignored;
  socket.socket().shutdown(tcp::socket::shutdown_send, ignored);
  while (true) {
    buffer.clear();
    auto [read_error, read] =
        co_await stream.async_read_some(buffer.prepare(64 * 1024), as_tuple(use_awaitable));
    if (read_error) co_return;
  }
}

void HttpServer::Impl::Stop() {
  asio::post(io, [this] {
    if (stopping.exchange(true)) return;
    log::Info("shutting down: no new connections; draining in-flight requests",
              {{"grace_seconds", config.shutdown_grace_seconds}});
    beast::error_code ignored;
    acceptor.close(ignored);
    {
      std::lock_guard lock(connections_mutex);
      for (auto& [id, connection] : connections) {
        if (connection->busy) continue;
        asio::post(connection->strand, [connection] {
          if (connection->stream != nullptr) connection->stream->cancel();
        });
      }
    }
    // Outside the lock: co_spawn may start Drain() right here, and Drain() takes it.
    asio::co_spawn(io, Drain(), asio::detached);
  });
}

asio::awaitable<void> HttpServer::Impl::Drain() {
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(config.shutdown_grace_seconds);
  asio::steady_timer timer(io);
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(connections_mutex);
      if (connections.empty()) break;
    }
    timer.expires_after(kDrainPollInterval);
    co_await timer.async_wait(as_tuple(use_awaitable));
  }
  {
    std::lock_guard lock(connections_mutex);
    if (!connections.empty()) {
      log::Warn("grace period over; closing connections", {{"open", connections.size()}});
    }
  }
  io.stop();
}

HttpServer::HttpServer(const ServerConfig& config, RequestPipeline& pipeline,
                       CertificateRefused on_certificate_refused)
    : impl_(std::make_unique<Impl>(config, pipeline, std::move(on_certificate_refused))) {}

HttpServer::~HttpServer() = default;

Status HttpServer::Start() { return impl_->Start(); }
uint16_t HttpServer::port() const { return impl_->bound_port; }
bool HttpServer::tls() const { return impl_->ssl.has_value(); }

void HttpServer::Run() {
  size_t threads = impl_->config.io_threads > 0 ? static_cast<size_t>(impl_->config.io_threads)
                                                : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (size_t i = 1; i < threads; ++i) pool.emplace_back([this] { impl_->io.run(); });
  impl_->io.run();
  for (auto& thread : pool) thread.join();
  // Handlers still running on workers finish before their connections' frames are destroyed.
  impl_->workers.join();
}

void HttpServer::Stop() { impl_->Stop(); }

}  // namespace falaj::api
