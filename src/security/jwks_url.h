// Fetching an OIDC issuer's JWKS document from its `jwks_uri` (RFC 8725 §3.8: keys come only
// from the configured issuer's endpoint, never from a token's `jku`/`x5u`).
//
// One blocking HTTP/1.1 GET per call, bounded in every dimension a hostile or broken endpoint
// could stretch: a single deadline covers resolve, connect, TLS handshake, request and the whole
// response (a server that dribbles bytes is cut off), the body may not exceed kMaxJwksBytes
// (checked against Content-Length first, then while reading), only a 200 answer counts and
// redirects are not followed. https:// is verified against the system trust store or a given CA
// file, with the host name checked; plain http:// is accepted only for loopback hosts
// (127.0.0.0/8, ::1, localhost), whose traffic never leaves the machine.
//
// Boost.Beast stays inside jwks_url.cc. Thread-safety: the returned fetch function holds only
// immutable state and may be called from several threads (JwksCache serialises it anyway).
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/result.h"

namespace falaj::security {

struct JwksUrlOptions {
  std::string uri = {};      // https://host[:port]/path, or http:// to a loopback host
  std::string ca_file = {};  // extra PEM CA bundle for https; empty: the system trust store only
  std::chrono::seconds timeout{5};
};

// Checks `options` (scheme, host, loopback rule for http, CA file readable) and returns a fetch
// function for JwksCache. INVALID_ARGUMENT naming the problem when the URI or CA file is unusable.
// Each call of the fetch function answers UNAVAILABLE naming the URI and the cause (cannot
// connect, TLS verification failed, timed out, HTTP status, body too large).
Result<std::function<Result<std::string>()>> JwksFromUrl(JwksUrlOptions options);

}  // namespace falaj::security
