#include "security/jwt_validator.h"

#include <openssl/ecdsa.h>
#include <openssl/err.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <optional>
#include <utility>

#include "security/jose_encoding.h"

namespace falaj::security {
namespace {

using nlohmann::json;

constexpr size_t kMaxJsonDepth = 16;
constexpr int64_t kMaxLeewaySeconds = 300;
constexpr size_t kEs256CoordinateBytes = 32;
// NumericDates beyond 2^53 s are nonsense and would risk overflow in the arithmetic below.
constexpr int64_t kMaxNumericDate = int64_t{1} << 53;
// Header members that point at or carry keys; keys come only from the configured JWKS.
constexpr std::string_view kKeyReferenceMembers[] = {"jku", "x5u", "jwk"};

enum class Algorithm { kRs256, kEs256 };

std::optional<Algorithm> SupportedAlgorithm(std::string_view name) {
  if (name == "RS256") return Algorithm::kRs256;
  if (name == "ES256") return Algorithm::kEs256;
  return std::nullopt;
}

std::unexpected<Error> Reject(std::string reason) {
  return MakeError(ErrorCode::kUnauthenticated, std::move(reason));
}

// Whether an attacker-chosen value is harmless enough to echo in a message.
bool IsShortName(std::string_view value) {
  return !value.empty() && value.size() <= 16 &&
         std::all_of(value.begin(), value.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '+';
         });
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

struct Header {
  Algorithm algorithm;
  std::string alg_name;
  std::string kid;
};

Result<Header> CheckHeader(const json& header, const std::vector<std::string>& allowed) {
  if (!header.is_object()) return Reject("token header is not a JSON object");
  auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string()) return Reject("missing algorithm");
  const std::string& name = alg->get_ref<const std::string&>();
  // Exact, case-sensitive allow-list: "none", "NoNe" and every HS* fail here.
  if (std::find(allowed.begin(), allowed.end(), name) == allowed.end() ||
      !SupportedAlgorithm(name)) {
    if (IsShortName(name)) return Reject(fmt::format("algorithm '{}' not allowed", name));
    return Reject("algorithm not allowed");
  }
  if (header.contains("crit")) return Reject("critical header parameters are not supported");
  for (std::string_view member : kKeyReferenceMembers) {
    if (header.contains(member)) {
      return Reject(fmt::format("header parameter '{}' not allowed", member));
    }
  }
  if (auto typ = header.find("typ"); typ != header.end()) {
    if (!typ->is_string() || !(EqualsIgnoreCase(typ->get_ref<const std::string&>(), "JWT") ||
                               EqualsIgnoreCase(typ->get_ref<const std::string&>(), "at+jwt"))) {
      return Reject("token type not accepted");
    }
  }
  auto kid = header.find("kid");
  if (kid == header.end() || !kid->is_string()) return Reject("missing key id");
  if (!IsSafeKeyId(kid->get_ref<const std::string&>())) return Reject("invalid key id");
  return Header{*SupportedAlgorithm(name), name, kid->get<std::string>()};
}

Status CheckKeyBinding(const Jwk& key, Algorithm algorithm, std::string_view alg_name) {
  bool type_matches =
      algorithm == Algorithm::kRs256
          ? key.type == JwkKeyType::kRsa && EVP_PKEY_is_a(key.key.get(), "RSA") == 1
          : key.type == JwkKeyType::kEcP256 && EVP_PKEY_is_a(key.key.get(), "EC") == 1;
  if (!type_matches) return Reject("key type does not match algorithm");
  if (!key.alg.empty() && key.alg != alg_name) {
    return Reject("key algorithm does not match token algorithm");
  }
  return Ok();
}

// JWS carries an ECDSA signature as fixed-length r || s (RFC 7518 §3.4); OpenSSL wants DER.
Result<std::string> EcdsaRawToDer(std::string_view raw) {
  if (raw.size() != 2 * kEs256CoordinateBytes) return Reject("invalid signature length");
  auto bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BignumPtr r(BN_bin2bn(bytes, kEs256CoordinateBytes, nullptr));
  BignumPtr s(BN_bin2bn(bytes + kEs256CoordinateBytes, kEs256CoordinateBytes, nullptr));
  EcdsaSigPtr signature(ECDSA_SIG_new());
  if (r == nullptr || s == nullptr || signature == nullptr ||
      ECDSA_SIG_set0(signature.get(), r.get(), s.get()) != 1) {
    return Reject("invalid signature");
  }
  r.release();  // now owned by `signature`
  s.release();
  int length = i2d_ECDSA_SIG(signature.get(), nullptr);
  if (length <= 0) return Reject("invalid signature");
  std::string der(static_cast<size_t>(length), '\0');
  auto out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(signature.get(), &out) != length) return Reject("invalid signature");
  return der;
}

Status VerifySignature(const Jwk& key, Algorithm algorithm, std::string_view signing_input,
                       std::string_view signature) {
  std::string der;
  if (algorithm == Algorithm::kEs256) {
    auto converted = EcdsaRawToDer(signature);
    if (!converted) return std::unexpected(converted.error());
    der = std::move(*converted);
    signature = der;
  } else if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key.key.get()))) {
    return Reject("invalid signature length");
  }
  EvpMdCtxPtr context(EVP_MD_CTX_new());
  bool valid =
      context != nullptr &&
      EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key.key.get()) == 1 &&
      EVP_DigestVerify(
          context.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
          reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  // A failed verification leaves entries on this thread's OpenSSL error queue.
  ERR_clear_error();
  if (!valid) return Reject("invalid signature");
  return Ok();
}

// A NumericDate claim (RFC 7519 §2): nullopt when absent.
Result<std::optional<int64_t>> NumericDate(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::optional<int64_t>();
  auto invalid = [&] { return Reject(fmt::format("claim '{}' is not a valid NumericDate", name)); };
  if (it->is_number_unsigned()) {
    uint64_t value = it->get<uint64_t>();
    if (value > static_cast<uint64_t>(kMaxNumericDate)) return invalid();
    return std::optional<int64_t>(static_cast<int64_t>(value));
  }
  if (it->is_number_integer()) return invalid();  // negative
  if (it->is_number_float()) {
    double value = it->get<double>();
    if (!std::isfinite(value) || value < 0 || value > static_cast<double>(kMaxNumericDate)) {
      return invalid();
    }
    return std::optional<int64_t>(static_cast<int64_t>(std::floor(value)));
  }
  return invalid();
}

Result<int64_t> RequiredNumericDate(const json& claims, const char* name) {
  auto value = NumericDate(claims, name);
  if (!value) return std::unexpected(value.error());
  if (!value->has_value()) return Reject(fmt::format("missing claim '{}'", name));
  return **value;
}

Status CheckAudience(const json& claims, const std::vector<std::string>& audiences) {
  auto aud = claims.find("aud");
  if (aud == claims.end()) return Reject("missing audience");
  auto ours = [&](const json& value) {
    return std::find(audiences.begin(), audiences.end(), value.get_ref<const std::string&>()) !=
           audiences.end();
  };
  if (aud->is_string()) return ours(*aud) ? Ok() : Reject("audience mismatch");
  if (!aud->is_array()) return Reject("invalid audience");
  bool found = false;
  for (const json& value : *aud) {
    if (!value.is_string()) return Reject("invalid audience");
    found = found || ours(value);
  }
  return found ? Ok() : Reject("audience mismatch");
}

Result<std::vector<std::string>> Roles(const json& claims, const std::string& claim) {
  auto it = claims.find(claim);
  if (it == claims.end()) return std::vector<std::string>();
  if (it->is_string()) return std::vector<std::string>{it->get<std::string>()};
  if (!it->is_array()) return Reject("invalid roles claim");
  std::vector<std::string> roles;
  for (const json& value : *it) {
    if (!value.is_string()) return Reject("invalid roles claim");
    roles.push_back(value.get<std::string>());
  }
  return roles;
}

}  // namespace

JwtValidator::JwtValidator(OidcIssuerConfig config, JwksCache& jwks, const Clock& clock)
    : config_(std::move(config)),
      config_status_(CheckConfig(config_)),
      jwks_(jwks),
      clock_(clock) {}

Status JwtValidator::CheckConfig(const OidcIssuerConfig& config) {
  auto invalid = [](std::string message) {
    return MakeError(ErrorCode::kInvalidArgument, std::move(message));
  };
  if (config.issuer.empty()) return invalid("OIDC issuer must not be empty");
  if (config.audiences.empty()) return invalid("OIDC audiences must not be empty");
  for (const std::string& audience : config.audiences) {
    if (audience.empty()) return invalid("OIDC audience must not be empty");
  }
  if (config.algorithms.empty()) return invalid("OIDC algorithms must not be empty");
  for (const std::string& algorithm : config.algorithms) {
    if (!SupportedAlgorithm(algorithm)) {
      return invalid(
          fmt::format("OIDC algorithm '{}' not supported (use RS256 or ES256)", algorithm));
    }
  }
  if (config.leeway_seconds < 0 || config.leeway_seconds > kMaxLeewaySeconds) {
    return invalid(fmt::format("OIDC leeway must be between 0 and {} seconds", kMaxLeewaySeconds));
  }
  if (config.max_lifetime_seconds <= 0 || config.max_lifetime_seconds > kMaxNumericDate) {
    return invalid("OIDC maximum token lifetime must be positive");
  }
  if (config.roles_claim.empty()) return invalid("OIDC roles claim must not be empty");
  return Ok();
}

Result<VerifiedToken> JwtValidator::Validate(std::string_view token) const {
  if (!config_status_) return Reject("token validator misconfigured");
  try {
    return ValidateUnchecked(token);
  } catch (...) {
    // Nothing above is meant to throw; should the JSON library do so anyway, deny.
    return Reject("invalid token");
  }
}

Result<VerifiedToken> JwtValidator::ValidateUnchecked(std::string_view token) const {
  if (token.empty()) return Reject("missing token");
  if (token.size() > kMaxTokenBytes) return Reject("token too large");
  auto dots = std::count(token.begin(), token.end(), '.');
  if (dots == 4) return Reject("encrypted tokens (JWE) are not accepted");
  if (dots != 2) return Reject("malformed token: expected three segments");
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);
  auto header_bytes = Base64UrlDecode(token.substr(0, first));
  auto payload_bytes = Base64UrlDecode(token.substr(first + 1, second - first - 1));
  auto signature = Base64UrlDecode(token.substr(second + 1));
  if (!header_bytes || !payload_bytes || !signature) {
    return Reject("malformed token: invalid base64url");
  }

  auto header_json = ParseJsonStrict(*header_bytes, kMaxJsonDepth);
  if (!header_json) return Reject("malformed token header: " + header_json.error().message);
  auto header = CheckHeader(*header_json, config_.algorithms);
  if (!header) return std::unexpected(header.error());

  auto key = jwks_.Find(header->kid);
  if (!key) {
    switch (key.error().code) {
      case ErrorCode::kNotFound:
        return Reject("unknown key id");
      case ErrorCode::kFailedPrecondition:
        return Reject("signing key not usable");
      default:
        return Reject("signing keys unavailable");
    }
  }
  FALAJ_RETURN_IF_ERROR(CheckKeyBinding(**key, header->algorithm, header->alg_name));
  FALAJ_RETURN_IF_ERROR(
      VerifySignature(**key, header->algorithm, token.substr(0, second), *signature));

  // Only now, with the signature verified, is the payload read.
  auto claims = ParseJsonStrict(*payload_bytes, kMaxJsonDepth);
  if (!claims) return Reject("malformed token payload: " + claims.error().message);
  if (!claims->is_object()) return Reject("token payload is not a JSON object");

  auto iss = claims->find("iss");
  if (iss == claims->end()) return Reject("missing issuer");
  if (!iss->is_string() || *iss != config_.issuer) return Reject("issuer mismatch");
  FALAJ_RETURN_IF_ERROR(CheckAudience(*claims, config_.audiences));

  auto exp = RequiredNumericDate(*claims, "exp");
  if (!exp) return std::unexpected(exp.error());
  auto iat = RequiredNumericDate(*claims, "iat");
  if (!iat) return std::unexpected(iat.error());
  auto nbf = NumericDate(*claims, "nbf");
  if (!nbf) return std::unexpected(nbf.error());
  const int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
  const int64_t leeway = config_.leeway_seconds;
  if (now >= *exp + leeway) return Reject("token expired");
  if (nbf->has_value() && now + leeway < **nbf) return Reject("token not yet valid");
  if (*iat > now + leeway) return Reject("token issued in the future");
  if (*exp < *iat) return Reject("token expires before it was issued");
  if (*exp - *iat > config_.max_lifetime_seconds) return Reject("token lifetime exceeds maximum");

  auto sub = claims->find("sub");
  if (sub == claims->end() || !sub->is_string() || sub->get_ref<const std::string&>().empty()) {
    return Reject("missing subject");
  }
  auto roles = Roles(*claims, config_.roles_claim);
  if (!roles) return std::unexpected(roles.error());

  VerifiedToken verified;
  verified.subject = sub->get<std::string>();
  verified.issuer = config_.issuer;
  verified.roles = std::move(*roles);
  verified.expires_at = *exp;
  verified.claims = std::move(*claims);
  return verified;
}

}  // namespace falaj::security
