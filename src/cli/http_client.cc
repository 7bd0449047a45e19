#include "cli/http_client.h"

#include <algorithm>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace falaj::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kTimeout = std::chrono::seconds(30);

struct ParsedUrl {
  bool tls = false;
  std::string host;
  std::string port;
};

Result<ParsedUrl> ParseUrl(std::string_view url) {
  ParsedUrl parsed;
  if (url.starts_with("https://")) {
    parsed.tls = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return MakeError(ErrorCode::kInvalidArgument,
                     "server URL '{}' must start with http:// or https://", url);
  }
  while (url.ends_with("/")) url.remove_suffix(1);
  auto colon = url.rfind(':');
  if (colon == std::string_view::npos || url.find(']', colon) != std::string_view::npos) {
    parsed.host = std::string(url);
    parsed.port = parsed.tls ? "443" : "80";
  } else {
    parsed.host = std::string(url.substr(0, colon));
    parsed.port = std::string(url.substr(colon + 1));
  }
  if (parsed.host.empty()) return MakeError(ErrorCode::kInvalidArgument, "server URL has no host");
  return parsed;
}

// Bytes handed to the socket per write while reporting upload progress.
constexpr size_t kProgressStep = 256 * 1024;

// Writes the request in steps of kProgressStep, reporting the body bytes sent after each.
template <typename Stream>
void WriteReportingProgress(Stream& stream, http::request<http::string_body>& request,
                            const ClientOptions& options, beast::error_code& error) {
  http::request_serializer<http::string_body> serializer(request);
  serializer.limit(kProgressStep);
  const uint64_t total = request.body().size();
  uint64_t sent = 0;  // header bytes included, so clamped to the body size below
  while (!serializer.is_done() && !error) {
    sent += http::write_some(stream, serializer, error);
    options.upload_progress(std::min(sent, total), total);
  }
}

template <typename Stream>
Result<ClientResponse> Exchange(Stream& stream, http::request<http::string_body>& request,
                                const ClientOptions& options) {
  beast::error_code error;
  if (options.upload_progress) {
    WriteReportingProgress(stream, request, options, error);
  } else {
    http::write(stream, request, error);
  }
  if (error)
    return MakeError(ErrorCode::kUnavailable, "sending request failed: {}", error.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(1ULL << 30);
  http::read(stream, buffer, parser, error);
  if (error)
    return MakeError(ErrorCode::kUnavailable, "reading response failed: {}", error.message());
  return ClientResponse{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

}  // namespace

Result<ClientResponse> SendRequest(const ClientOptions& options, std::string_view method,
                                   std::string_view path, std::string_view body,
                                   std::string_view content_type) {
  auto url = ParseUrl(options.base_url);
  if (!url) return std::unexpected(url.error());
  asio::io_context io;
  tcp::resolver resolver(io);
  beast::error_code error;
  auto endpoints = resolver.resolve(url->host, url->port, error);
  if (error) {
    return MakeError(ErrorCode::kUnavailable, "cannot resolve '{}': {}", url->host,
                     error.message());
  }
  http::request<http::string_body> request{http::string_to_verb(method), std::string(path), 11};
  request.set(http::field::host, url->host);
  request.set(http::field::user_agent, "falaj-cli");
  if (!options.api_key.empty())
    request.set(http::field::authorization, "Bearer " + options.api_key);
  if (!body.empty()) request.set(http::field::content_type, content_type);
  request.body() = std::string(body);
  request.prepare_payload();

  beast::tcp_stream tcp_stream(io);
  tcp_stream.expires_after(kTimeout);
  tcp_stream.connect(endpoints, error);
  if (error) {
    return MakeError(ErrorCode::kUnavailable, "cannot connect to {}: {}", options.base_url,
                     error.message());
  }
  if (!url->tls) return Exchange(tcp_stream, request, options);

  asio::ssl::context context(asio::ssl::context::tls_client);
  context.set_default_verify_paths(error);
  if (!options.ca_file.empty()) context.load_verify_file(options.ca_file, error);
  if (error)
    return MakeError(ErrorCode::kInvalidArgument, "cannot load CA file: {}", error.message());
  context.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> secure(std::move(tcp_stream), context);
  SSL_set_tlsext_host_name(secure.native_handle(), url->host.c_str());
  secure.set_verify_callback(asio::ssl::host_name_verification(url->host));
  secure.handshake(asio::ssl::stream_base::client, error);
  if (error) return MakeError(ErrorCode::kUnavailable, "TLS handshake failed: {}", error.message());
  return Exchange(secure, request, options);
}

}  // namespace falaj::cli
