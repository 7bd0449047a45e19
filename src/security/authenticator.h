// Authentication of a bearer credential: an OIDC access token (a JWT from the configured
// issuer) or a Falaj API key. A JWT's subject becomes "user:<sub>", the values of its roles
// claim become groups "group:<value>" (bound to project roles like any subject), and values
// listed as admin groups make the caller a platform administrator.
//
// A client certificate verified by the TLS layer (mutual TLS) identifies a service as
// "cert:<subject CN>", bound to project roles like any subject; it is never a platform admin.
//
// Thread-safe once constructed.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "security/api_keys.h"
#include "security/jwks.h"
#include "security/jwks_url.h"
#include "security/jwt_validator.h"
#include "security/principal.h"

namespace falaj::security {

struct OidcSettings {
  OidcIssuerConfig issuer;
  std::string jwks_file;  // exactly one of jwks_file and jwks_url.uri is set
  JwksUrlOptions jwks_url;
  std::chrono::seconds jwks_refresh_cooldown{30};
  std::vector<std::string> admin_groups;
};

// The credential of an "Authorization: Bearer <credential>" value (scheme case-insensitive);
// empty when the value has another scheme or no credential.
std::string_view BearerToken(std::string_view authorization);

// The principal of a verified client certificate with this subject CN. UNAUTHENTICATED when the
// CN is empty, longer than 128 characters, or holds characters outside [A-Za-z0-9._@-] (so a
// subject can never smuggle separators into a role binding or an audit record).
Result<Principal> ClientCertificatePrincipal(std::string_view common_name);

class Authenticator {
 public:
  // Without OIDC settings, only API keys are accepted.
  explicit Authenticator(ApiKeyService& keys) : keys_(keys) {}
  // INVALID_ARGUMENT when the OIDC settings are unusable (checked at start-up).
  static Result<std::unique_ptr<Authenticator>> Create(ApiKeyService& keys,
                                                       const OidcSettings* oidc,
                                                       const Clock& clock);

  // UNAUTHENTICATED with a reason that never contains the credential.
  Result<Principal> Authenticate(std::string_view credential);
  // The principal of an API key verified moments ago, from memory alone; nullopt when answering
  // needs storage or token validation (then call Authenticate()). For the inference fast path.
  std::optional<Principal> AuthenticateFromMemory(std::string_view credential);

 private:
  Result<Principal> FromToken(std::string_view token);

  ApiKeyService& keys_;
  std::vector<std::string> admin_groups_;
  std::unique_ptr<JwksCache> jwks_;
  std::unique_ptr<JwtValidator> validator_;
};

}  // namespace falaj::security
