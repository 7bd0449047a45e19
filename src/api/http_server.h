// The HTTP/1.1 server (Boost.Beast on Asio, C++20 coroutines; Boost stays inside http_server.cc).
// N I/O threads serve connections; each connection is one coroutine on its own strand that owns
// its socket and buffer. Keep-alive, a request-body limit (413), a header timeout, a body
// timeout, an idle timeout between requests, optional TLS (with client certificates verified
// against a CA when server.tls.client_auth asks: a verified certificate's subject CN reaches the
// pipeline as the request's client identity), and graceful shutdown: Stop() stops
// accepting, closes idle connections, lets in-flight requests finish until the grace deadline,
// then closes the rest.
//
// Thread-safety: Start() and Run() from one thread; Stop() from any thread (signal handling).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "api/request_pipeline.h"
#include "common/config.h"
#include "common/result.h"

namespace falaj::api {

class HttpServer {
 public:
  // Called on a worker thread when a TLS handshake fails because the client's certificate is
  // missing or does not verify, with the client address and why (for the audit trail).
  using CertificateRefused = std::function<void(std::string_view remote, std::string_view why)>;

  HttpServer(const ServerConfig& config, RequestPipeline& pipeline,
             CertificateRefused on_certificate_refused = nullptr);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds the listening socket (and loads TLS material). After success, port() is the bound
  // port, even when the configuration asked for port 0.
  Status Start();
  uint16_t port() const;
  bool tls() const;

  // Serves until Stop() completes a graceful shutdown. Blocks the calling thread, which becomes
  // one of the I/O threads.
  void Run();

  // Begins a graceful shutdown; returns immediately.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace falaj::api
