#include "security/authenticator.h"

#include <algorithm>
#include <cctype>

namespace falaj::security {
namespace {

// A compact JWS has exactly two dots; API keys have none.
bool LooksLikeJwt(std::string_view credential) {
  return std::count(credential.begin(), credential.end(), '.') == 2;
}

}  // namespace

std::string_view BearerToken(std::string_view authorization) {
  constexpr std::string_view kScheme = "Bearer ";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i]))) {
      return {};
    }
  }
  return authorization.substr(kScheme.size());
}

Result<Principal> ClientCertificatePrincipal(std::string_view common_name) {
  constexpr size_t kMaxCommonName = 128;
  bool usable = !common_name.empty() && common_name.size() <= kMaxCommonName;
  for (char c : common_name) {
    usable = usable && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                        c == '@' || c == '-');
  }
  if (!usable) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "client certificate subject CN is not a usable identity (1-128 characters "
                     "from A-Z a-z 0-9 . _ @ -)");
  }
  Principal principal;
  principal.subject = "cert:" + std::string(common_name);
  principal.name = std::string(common_name);
  return principal;
}

Result<std::unique_ptr<Authenticator>> Authenticator::Create(ApiKeyService& keys,
                                                             const OidcSettings* oidc,
                                                             const Clock& clock) {
  auto authenticator = std::make_unique<Authenticator>(keys);
  if (oidc == nullptr) return authenticator;
  FALAJ_RETURN_IF_ERROR(JwtValidator::CheckConfig(oidc->issuer));
  if (oidc->jwks_file.empty() == oidc->jwks_url.uri.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "exactly one of 'security.oidc.jwks_file' and 'security.oidc.jwks_uri' is "
                     "required when an OIDC issuer is set");
  }
  JwksCache::Fetch fetch;
  if (oidc->jwks_file.empty()) {
    FALAJ_ASSIGN_OR_RETURN(fetch, JwksFromUrl(oidc->jwks_url));
  } else {
    fetch = JwksFromFile(oidc->jwks_file);
  }
  const std::string& source = oidc->jwks_file.empty() ? oidc->jwks_url.uri : oidc->jwks_file;
  authenticator->jwks_ =
      std::make_unique<JwksCache>(std::move(fetch), clock, oidc->jwks_refresh_cooldown);
  // Loading the keys now makes a broken JWKS source a start-up error, not a stream of 401s.
  if (Status loaded = authenticator->jwks_->Refresh(); !loaded) {
    return MakeError(ErrorCode::kInvalidArgument, "cannot load JWKS '{}': {}", source,
                     loaded.error().message);
  }
  authenticator->validator_ =
      std::make_unique<JwtValidator>(oidc->issuer, *authenticator->jwks_, clock);
  authenticator->admin_groups_ = oidc->admin_groups;
  return authenticator;
}

Result<Principal> Authenticator::Authenticate(std::string_view credential) {
  if (validator_ != nullptr && LooksLikeJwt(credential)) return FromToken(credential);
  return keys_.Authenticate(credential);
}

std::optional<Principal> Authenticator::AuthenticateFromMemory(std::string_view credential) {
  if (validator_ != nullptr && LooksLikeJwt(credential)) return std::nullopt;
  return keys_.RecentlyVerified(credential);
}

Result<Principal> Authenticator::FromToken(std::string_view token) {
  FALAJ_ASSIGN_OR_RETURN(auto verified, validator_->Validate(token));
  Principal principal;
  principal.subject = "user:" + verified.subject;
  auto username = verified.claims.find("preferred_username");
  principal.name = username != verified.claims.end() && username->is_string()
                       ? username->get<std::string>()
                       : verified.subject;
  for (const auto& role : verified.roles) {
    principal.groups.push_back("group:" + role);
    if (std::find(admin_groups_.begin(), admin_groups_.end(), role) != admin_groups_.end()) {
      principal.platform_admin = true;
    }
  }
  return principal;
}

}  // namespace falaj::security
