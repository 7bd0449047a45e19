// The outbound HTTP of alert notifications: one JSON POST per call, bounded by a deadline that
// covers resolve, connect, request and response; the answer's body is read up to 64 KiB and
// discarded. Only http:// to loopback hosts is accepted (checked when a rule is created, and
// again on the resolved addresses), so tests' local receivers are reachable and nothing else is;
// https and an allow-list of hosts are not built yet (docs/alerts.md). The JWKS fetcher
// (security/jwks_url.h) is GET-only and the CLI's client lives above the API layer, so neither
// could be reused here. Boost.Beast stays inside alert_http.cc. Thread-safe (no shared state).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace falaj::monitoring {

struct HttpUrl {
  std::string host;
  std::string port;    // "80" when the URL has none
  std::string target;  // "/path?query", "/" when empty
};

// INVALID_ARGUMENT naming `field` unless `url` is http://<loopback host>[:port][/path].
Result<HttpUrl> ParseHttpUrl(std::string_view url, std::string_view field);

// POSTs `body` as application/json. Returns the HTTP status; UNAVAILABLE naming the URL when
// the exchange fails or times out.
Result<int> PostJson(const std::string& url, const std::string& body,
                     std::chrono::milliseconds timeout);

}  // namespace falaj::monitoring
