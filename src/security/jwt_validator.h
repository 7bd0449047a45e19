// Validation of OIDC access tokens (JWT in JWS compact form, RFC 7519/7515/9068) issued by one
// configured issuer, following RFC 8725: a fixed algorithm allow-list (RS256, ES256), keys only
// from that issuer's JWKS and bound to the token's algorithm by `kty`/`crv`/`alg`, signature
// checked before the claims are read, and `iss`, `aud`, `exp`, `iat`, `nbf`, `sub` checked
// against the configuration and the clock.
//
// Every rejection is UNAUTHENTICATED with a short reason fit for logs and for the client; no
// message ever contains the token or any part of it.
//
// Thread-safety: a JwtValidator is immutable after construction and Validate may run
// concurrently; the JwksCache it uses is itself thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "security/jwks.h"

namespace falaj::security {

struct OidcIssuerConfig {
  std::string issuer;                        // compared with `iss` exactly
  std::vector<std::string> audiences;        // `aud` must contain at least one of these
  std::vector<std::string> algorithms;       // allow-list, a subset of {"RS256", "ES256"}
  int64_t leeway_seconds = 60;               // clock skew tolerated on exp, nbf and iat
  int64_t max_lifetime_seconds = 24 * 3600;  // upper bound on exp - iat
  std::string roles_claim = "groups";        // top-level claim holding the caller's roles
};

struct VerifiedToken {
  std::string subject;
  std::string issuer;
  std::vector<std::string> roles;  // the roles claim: a string gives one role, an array several
  int64_t expires_at = 0;          // `exp`, seconds since the Unix epoch
  nlohmann::json claims;           // the whole verified payload
};

// The largest token accepted; longer input is refused before any decoding.
inline constexpr size_t kMaxTokenBytes = 8 * 1024;

class JwtValidator {
 public:
  // `jwks` and `clock` must outlive the validator. An invalid configuration (see CheckConfig)
  // makes every Validate fail, so a mistake denies rather than admits.
  JwtValidator(OidcIssuerConfig config, JwksCache& jwks, const Clock& clock);

  // INVALID_ARGUMENT naming the problem when `config` cannot be used: empty issuer, no audience,
  // no algorithm or one outside {RS256, ES256}, leeway outside [0, 300] s, or a lifetime bound
  // that is not positive. Call at start-up to fail fast.
  static Status CheckConfig(const OidcIssuerConfig& config);

  // The verified identity in `token` (the bare token, without "Bearer "). UNAUTHENTICATED with a
  // reason on any failure. May block on a JWKS refresh when the token names an unknown key id.
  Result<VerifiedToken> Validate(std::string_view token) const;

 private:
  Result<VerifiedToken> ValidateUnchecked(std::string_view token) const;

  const OidcIssuerConfig config_;
  const Status config_status_;
  JwksCache& jwks_;
  const Clock& clock_;
};

}  // namespace falaj::security
