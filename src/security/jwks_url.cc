#include "security/jwks_url.h"

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <memory>
#include <optional>

#include "security/jwks.h"

namespace falaj::security {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::as_tuple;
using asio::use_awaitable;

struct Target {
  std::string uri;  // as configured, for messages
  bool tls = false;
  std::string host;  // without brackets for IPv6
  std::string port;
  std::string host_header;
  std::string path;
};

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  beast::error_code error;
  auto address = asio::ip::make_address(host, error);
  return !error && address.is_loopback();
}

Result<Target> ParseTarget(std::string uri) {
  Target target;
  target.uri = uri;
  std::string_view rest = uri;
  if (rest.starts_with("https://")) {
    target.tls = true;
    rest.remove_prefix(8);
  } else if (rest.starts_with("http://")) {
    rest.remove_prefix(7);
  } else {
    return MakeError(ErrorCode::kInvalidArgument, "JWKS URI '{}' must start with https://", uri);
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  target.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (authority.find('@') != std::string_view::npos || target.path.find('#') != std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "JWKS URI '{}' must not carry user information or a fragment", uri);
  }
  target.host_header = std::string(authority);
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    target.port = std::string(authority.substr(colon + 1));
    authority = authority.substr(0, colon);
  } else {
    target.port = target.tls ? "443" : "80";
  }
  if (authority.starts_with('[') && authority.ends_with(']')) {
    authority = authority.substr(1, authority.size() - 2);
  }
  target.host = std::string(authority);
  if (target.host.empty() || target.port.empty() ||
      target.port.find_first_not_of("0123456789") != std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "JWKS URI '{}' has no valid host and port", uri);
  }
  if (!target.tls && !IsLoopbackHost(target.host)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "JWKS URI '{}' must use https:// (plain http:// only to a loopback host)",
                     uri);
  }
  return target;
}

Error Failure(const Target& target, std::string_view what) {
  return Error{ErrorCode::kUnavailable,
               fmt::format("JWKS fetch from '{}' failed: {}", target.uri, what)};
}

Error TooLarge(const Target& target) {
  return Failure(target, fmt::format("document larger than {} bytes", kMaxJwksBytes));
}

template <typename Stream>
asio::awaitable<Result<std::string>> Exchange(Stream& stream, const Target& target) {
  http::request<http::empty_body> request{http::verb::get, target.path, 11};
  request.set(http::field::host, target.host_header);
  request.set(http::field::user_agent, "falaj-jwks");
  request.set(http::field::accept, "application/jwk-set+json, application/json");
  request.set(http::field::connection, "close");
  auto [write_error, written] =
      co_await http::async_write(stream, request, as_tuple(use_awaitable));
  if (write_error) co_return std::unexpected(Failure(target, write_error.message()));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxJwksBytes);
  auto [header_error, header_bytes] =
      co_await http::async_read_header(stream, buffer, parser, as_tuple(use_awaitable));
  // Beast refuses a declared Content-Length above the limit while reading the header.
  if (header_error == http::error::body_limit) co_return std::unexpected(TooLarge(target));
  if (header_error) co_return std::unexpected(Failure(target, header_error.message()));
  // Redirects are not followed: the keys must come from the configured location itself.
  if (unsigned status = parser.get().result_int(); status != 200) {
    co_return std::unexpected(Failure(target, fmt::format("answered HTTP {}", status)));
  }
  auto [read_error, read_bytes] =
      co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
  if (read_error == http::error::body_limit) co_return std::unexpected(TooLarge(target));
  if (read_error) co_return std::unexpected(Failure(target, read_error.message()));
  co_return std::move(parser.get().body());
}

asio::awaitable<Result<std::string>> Get(const Target& target, asio::ssl::context* tls) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  auto [resolve_error, endpoints] =
      co_await resolver.async_resolve(target.host, target.port, as_tuple(use_awaitable));
  if (resolve_error) co_return std::unexpected(Failure(target, resolve_error.message()));
  if (tls == nullptr) {
    // "localhost" could be mapped elsewhere; plain HTTP must really stay on this machine.
    for (const auto& endpoint : endpoints) {
      if (!endpoint.endpoint().address().is_loopback()) {
        co_return std::unexpected(Failure(target, "http:// host is not a loopback address"));
      }
    }
  }
  beast::tcp_stream stream(executor);
  auto [connect_error, connected] =
      co_await stream.async_connect(endpoints, as_tuple(use_awaitable));
  if (connect_error) co_return std::unexpected(Failure(target, connect_error.message()));
  if (tls == nullptr) co_return co_await Exchange(stream, target);

  beast::ssl_stream<beast::tcp_stream> secure(std::move(stream), *tls);
  beast::error_code ip_error;
  asio::ip::make_address(target.host, ip_error);
  if (ip_error) SSL_set_tlsext_host_name(secure.native_handle(), target.host.c_str());
  secure.set_verify_callback(asio::ssl::host_name_verification(target.host));
  auto [handshake_error] =
      co_await secure.async_handshake(asio::ssl::stream_base::client, as_tuple(use_awaitable));
  if (handshake_error) {
    co_return std::unexpected(
        Failure(target, fmt::format("TLS handshake: {}", handshake_error.message())));
  }
  co_return co_await Exchange(secure, target);
}

}  // namespace

Result<std::function<Result<std::string>()>> JwksFromUrl(JwksUrlOptions options) {
  FALAJ_ASSIGN_OR_RETURN(Target target, ParseTarget(options.uri));
  if (options.timeout <= std::chrono::seconds(0)) {
    return MakeError(ErrorCode::kInvalidArgument, "JWKS fetch timeout must be positive");
  }
  std::shared_ptr<asio::ssl::context> tls;
  if (target.tls) {
    tls = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    tls->set_options(asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    beast::error_code error;
    tls->set_default_verify_paths(error);
    if (!options.ca_file.empty()) {
      error = {};
      tls->load_verify_file(options.ca_file, error);
      if (error) {
        return MakeError(ErrorCode::kInvalidArgument, "cannot load JWKS CA file '{}': {}",
                         options.ca_file, error.message());
      }
    }
    tls->set_verify_mode(asio::ssl::verify_peer);
  }
  return [target = std::move(target), tls, timeout = options.timeout]() -> Result<std::string> {
    asio::io_context io;
    std::optional<Result<std::string>> outcome;
    asio::co_spawn(io, Get(target, tls.get()),
                   [&outcome, &target](std::exception_ptr failure, Result<std::string> result) {
                     if (failure) {
                       outcome = std::unexpected(Failure(target, "unexpected exception"));
                     } else {
                       outcome = std::move(result);
                     }
                   });
    // One deadline for the whole exchange; whatever is still pending is torn down with `io`.
    io.run_for(timeout);
    if (!outcome) {
      return std::unexpected(
          Failure(target, fmt::format("no complete answer within {} s", timeout.count())));
    }
    return std::move(*outcome);
  };
}

}  // namespace falaj::security
