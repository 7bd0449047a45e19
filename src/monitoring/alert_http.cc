#include "monitoring/alert_http.h"

#include <fmt/format.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

namespace falaj::monitoring {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::as_tuple;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

bool IsLoopbackName(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  boost::system::error_code error;
  auto address = asio::ip::make_address(host, error);
  return !error && address.is_loopback();
}

asio::awaitable<Result<int>> Exchange(const HttpUrl& url, const std::string& text_url,
                                      const std::string& body, std::chrono::milliseconds timeout) {
  auto failure = [&](std::string_view why) {
    return MakeError(ErrorCode::kUnavailable, "POST {} failed: {}", text_url, why);
  };
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  auto [resolve_error, endpoints] =
      co_await resolver.async_resolve(url.host, url.port, as_tuple(use_awaitable));
  if (resolve_error) co_return failure(resolve_error.message());
  // A name could resolve elsewhere: plain HTTP must really stay on this machine.
  for (const auto& endpoint : endpoints) {
    if (!endpoint.endpoint().address().is_loopback()) co_return failure("host is not loopback");
  }
  beast::tcp_stream stream(executor);
  stream.expires_after(timeout);
  auto [connect_error, connected] =
      co_await stream.async_connect(endpoints, as_tuple(use_awaitable));
  if (connect_error) co_return failure(connect_error.message());
  http::request<http::string_body> request{http::verb::post, url.target, 11};
  request.set(http::field::host, url.host);
  request.set(http::field::user_agent, "falaj-alerts");
  request.set(http::field::content_type, "application/json");
  request.set(http::field::connection, "close");
  request.body() = body;
  request.prepare_payload();
  auto [write_error, written] =
      co_await http::async_write(stream, request, as_tuple(use_awaitable));
  if (write_error) co_return failure(write_error.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024);
  auto [read_error, read] =
      co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
  if (read_error && read_error != http::error::body_limit) co_return failure(read_error.message());
  co_return static_cast<int>(parser.get().result_int());
}

}  // namespace

Result<HttpUrl> ParseHttpUrl(std::string_view url, std::string_view field) {
  constexpr std::string_view kScheme = "http://";
  auto refuse = [&](std::string_view why) {
    return MakeError(ErrorCode::kInvalidArgument, "{} {}: got '{}'", field, why,
                     url.substr(0, 128));
  };
  if (url.size() > 2048) return refuse("is longer than 2048 characters");
  if (!url.starts_with(kScheme)) {
    return refuse("must be an http:// URL of a loopback host (https is not supported yet)");
  }
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  HttpUrl parsed;
  parsed.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (parsed.target.front() == '?') parsed.target.insert(0, "/");
  if (authority.find('@') != std::string_view::npos) return refuse("must not carry credentials");
  size_t colon = authority.rfind(':');
  bool bracketed = authority.starts_with('[');
  if (colon != std::string_view::npos && (!bracketed || authority[colon - 1] == ']')) {
    parsed.host = std::string(authority.substr(0, colon));
    parsed.port = std::string(authority.substr(colon + 1));
  } else {
    parsed.host = std::string(authority);
    parsed.port = "80";
  }
  if (bracketed) parsed.host = parsed.host.substr(1, parsed.host.size() - 2);
  if (parsed.port.empty() || parsed.port.size() > 5 ||
      parsed.port.find_first_not_of("0123456789") != std::string::npos) {
    return refuse("has an invalid port");
  }
  for (char c : parsed.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return refuse("has a control character");
  }
  if (!IsLoopbackName(parsed.host)) {
    return refuse(
        "must name a loopback host (127.0.0.1, ::1, localhost): other hosts are not "
        "reachable yet");
  }
  return parsed;
}

Result<int> PostJson(const std::string& url, const std::string& body,
                     std::chrono::milliseconds timeout) {
  FALAJ_ASSIGN_OR_RETURN(HttpUrl parsed, ParseHttpUrl(url, "url"));
  asio::io_context context;
  std::optional<Result<int>> outcome;
  asio::co_spawn(context, Exchange(parsed, url, body, timeout),
                 [&](std::exception_ptr error, Result<int> result) {
                   if (error) {
                     outcome = MakeError(ErrorCode::kUnavailable, "POST {} failed", url);
                   } else {
                     outcome = std::move(result);
                   }
                 });
  context.run_for(timeout + std::chrono::milliseconds(100));
  if (!outcome) return MakeError(ErrorCode::kUnavailable, "POST {} timed out", url);
  return std::move(*outcome);
}

}  // namespace falaj::monitoring
