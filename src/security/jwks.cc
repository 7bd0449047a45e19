#include "security/jwks.h"

#include <openssl/core_names.h>
#include <openssl/err.h>

#include <array>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "common/logging.h"
#include "security/jose_encoding.h"

namespace falaj::security {
namespace {

using nlohmann::json;

constexpr size_t kMaxKidLength = 128;
constexpr int kMinRsaBits = 2048;
// Verification cost grows with the modulus; nothing legitimate uses more.
constexpr int kMaxRsaBits = 8192;
constexpr size_t kMaxRsaExponentBytes = 8;
constexpr size_t kP256CoordinateBytes = 32;
constexpr size_t kMaxJwksDepth = 8;
constexpr std::array<std::string_view, 8> kPrivateMembers = {"d",  "p",  "q",   "dp",
                                                             "dq", "qi", "oth", "k"};

// A key that parsed: either usable or set aside with a reason.
struct KeyOutcome {
  std::shared_ptr<const Jwk> key;
  std::string unusable_reason;
};

KeyOutcome Unusable(std::string reason) { return KeyOutcome{nullptr, std::move(reason)}; }

Result<std::string> DecodeMember(const json& jwk, std::string_view kid, const char* member) {
  auto it = jwk.find(member);
  if (it == jwk.end() || !it->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "JWKS key '{}': member '{}' missing or not a string", kid, member);
  }
  auto decoded = Base64UrlDecode(it->get_ref<const std::string&>());
  if (!decoded || decoded->empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "JWKS key '{}': member '{}' is not base64url",
                     kid, member);
  }
  return decoded;
}

BignumPtr ToBignum(std::string_view bytes) {
  return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                             static_cast<int>(bytes.size()), nullptr));
}

// Builds a public key of `type` ("RSA" or "EC") from the parameters in `builder`, and runs
// OpenSSL's public key validation (for EC: the point is on the curve and not at infinity).
EvpPkeyPtr KeyFromParams(const char* type, OSSL_PARAM_BLD* builder) {
  OsslParamPtr params(OSSL_PARAM_BLD_to_param(builder));
  EvpPkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (params == nullptr || context == nullptr || EVP_PKEY_fromdata_init(context.get()) != 1 ||
      EVP_PKEY_fromdata(context.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  EvpPkeyPtr key(raw);
  EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (check == nullptr || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

Result<KeyOutcome> ParseRsa(const json& jwk, Jwk key) {
  auto n = DecodeMember(jwk, key.kid, "n");
  if (!n) return std::unexpected(n.error());
  auto e = DecodeMember(jwk, key.kid, "e");
  if (!e) return std::unexpected(e.error());
  BignumPtr modulus = ToBignum(*n);
  BignumPtr exponent = ToBignum(*e);
  if (modulus == nullptr || exponent == nullptr) {
    return MakeError(ErrorCode::kInternal, "JWKS key '{}': out of memory", key.kid);
  }
  key.bits = BN_num_bits(modulus.get());
  if (key.bits < kMinRsaBits) return Unusable("RSA key smaller than 2048 bits");
  if (key.bits > kMaxRsaBits) return Unusable("RSA key larger than 8192 bits");
  if (e->size() > kMaxRsaExponentBytes || !BN_is_odd(exponent.get()) || BN_is_one(exponent.get()) ||
      !BN_is_odd(modulus.get())) {
    return Unusable("invalid RSA public key");
  }
  OsslParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (builder == nullptr ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get()) != 1) {
    return MakeError(ErrorCode::kInternal, "JWKS key '{}': out of memory", key.kid);
  }
  key.key = KeyFromParams("RSA", builder.get());
  if (key.key == nullptr) return Unusable("invalid RSA public key");
  return KeyOutcome{std::make_shared<const Jwk>(std::move(key)), ""};
}

Result<KeyOutcome> ParseEc(const json& jwk, Jwk key) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument, "JWKS key '{}': member 'crv' missing", key.kid);
  }
  if (*crv != "P-256") return Unusable("unsupported EC curve");
  auto x = DecodeMember(jwk, key.kid, "x");
  if (!x) return std::unexpected(x.error());
  auto y = DecodeMember(jwk, key.kid, "y");
  if (!y) return std::unexpected(y.error());
  // RFC 7518 §6.2.1.2: coordinates are full-length, so a short one is a broken key.
  if (x->size() != kP256CoordinateBytes || y->size() != kP256CoordinateBytes) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "JWKS key '{}': P-256 coordinates must be 32 bytes each", key.kid);
  }
  std::string point = "\x04" + *x + *y;  // uncompressed SEC1 encoding
  OsslParamBldPtr builder(OSSL_PARAM_BLD_new());
  if (builder == nullptr ||
      OSSL_PARAM_BLD_push_utf8_string(builder.get(), OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(builder.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return MakeError(ErrorCode::kInternal, "JWKS key '{}': out of memory", key.kid);
  }
  key.bits = 256;
  key.key = KeyFromParams("EC", builder.get());
  if (key.key == nullptr) return Unusable("invalid EC public key");
  return KeyOutcome{std::make_shared<const Jwk>(std::move(key)), ""};
}

// Checks the members that decide whether a key may verify signatures at all.
Result<std::optional<std::string>> CheckPurpose(const json& jwk, std::string_view kid) {
  if (auto use = jwk.find("use"); use != jwk.end() && *use != "sig") {
    return std::optional<std::string>("key use is not 'sig'");
  }
  if (auto ops = jwk.find("key_ops"); ops != jwk.end()) {
    if (!ops->is_array()) {
      return MakeError(ErrorCode::kInvalidArgument, "JWKS key '{}': 'key_ops' is not an array",
                       kid);
    }
    bool verify = false;
    for (const json& op : *ops) verify = verify || op == "verify";
    if (!verify) return std::optional<std::string>("key_ops does not include 'verify'");
  }
  for (std::string_view member : kPrivateMembers) {
    if (jwk.contains(member)) {
      return std::optional<std::string>("key contains private key material");
    }
  }
  return std::optional<std::string>();
}

Result<KeyOutcome> ParseKey(const json& jwk, std::string kid) {
  auto kty = jwk.find("kty");
  if (kty == jwk.end() || !kty->is_string()) {
    return MakeError(ErrorCode::kInvalidArgument, "JWKS key '{}': member 'kty' missing", kid);
  }
  auto purpose = CheckPurpose(jwk, kid);
  if (!purpose) return std::unexpected(purpose.error());
  if (purpose->has_value()) return Unusable(std::move(**purpose));
  Jwk key{std::move(kid), JwkKeyType::kRsa, "", nullptr, 0};
  if (auto alg = jwk.find("alg"); alg != jwk.end()) {
    if (!alg->is_string()) {
      return MakeError(ErrorCode::kInvalidArgument, "JWKS key '{}': 'alg' is not a string",
                       key.kid);
    }
    key.alg = alg->get<std::string>();
  }
  if (*kty == "RSA") {
    if (!key.alg.empty() && key.alg != "RS256") return Unusable("key algorithm not supported");
    return ParseRsa(jwk, std::move(key));
  }
  if (*kty == "EC") {
    if (!key.alg.empty() && key.alg != "ES256") return Unusable("key algorithm not supported");
    key.type = JwkKeyType::kEcP256;
    return ParseEc(jwk, std::move(key));
  }
  return Unusable("unsupported key type");
}

}  // namespace

bool IsSafeKeyId(std::string_view kid) {
  if (kid.empty() || kid.size() > kMaxKidLength) return false;
  for (char c : kid) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Result<JwksSnapshot> ParseJwks(std::string_view text) {
  if (text.size() > kMaxJwksBytes) {
    return MakeError(ErrorCode::kInvalidArgument, "JWKS document larger than {} bytes",
                     kMaxJwksBytes);
  }
  auto document = ParseJsonStrict(text, kMaxJwksDepth);
  if (!document) {
    return MakeError(ErrorCode::kInvalidArgument, "JWKS document: {}", document.error().message);
  }
  auto keys = document->is_object() ? document->find("keys") : document->end();
  if (keys == document->end() || !keys->is_array()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "JWKS document must be an object with a 'keys' array");
  }
  if (keys->size() > kMaxJwksKeys) {
    return MakeError(ErrorCode::kInvalidArgument, "JWKS document has more than {} keys",
                     kMaxJwksKeys);
  }
  JwksSnapshot snapshot;
  std::set<std::string, std::less<>> seen;
  for (size_t i = 0; i < keys->size(); ++i) {
    const json& jwk = (*keys)[i];
    if (!jwk.is_object()) {
      return MakeError(ErrorCode::kInvalidArgument, "JWKS key #{} is not an object", i);
    }
    auto kid = jwk.find("kid");
    // A key no acceptable token can name is of no use, whatever else it holds.
    if (kid == jwk.end() || !kid->is_string() || !IsSafeKeyId(kid->get_ref<const std::string&>())) {
      continue;
    }
    const std::string& id = kid->get_ref<const std::string&>();
    if (!seen.insert(id).second) {
      return MakeError(ErrorCode::kInvalidArgument, "JWKS document repeats kid '{}'", id);
    }
    auto outcome = ParseKey(jwk, id);
    if (!outcome) return std::unexpected(outcome.error());
    if (outcome->key != nullptr) {
      snapshot.keys.emplace(id, std::move(outcome->key));
    } else {
      snapshot.unusable.emplace(id, std::move(outcome->unusable_reason));
    }
  }
  ERR_clear_error();
  return snapshot;
}

std::function<Result<std::string>()> JwksFromFile(std::string path) {
  return [path = std::move(path)]() -> Result<std::string> {
    std::ifstream file(path, std::ios::binary);
    if (!file) return MakeError(ErrorCode::kNotFound, "cannot open JWKS file '{}'", path);
    std::string text;
    char buffer[8192];
    while (file.read(buffer, sizeof buffer) || file.gcount() > 0) {
      text.append(buffer, static_cast<size_t>(file.gcount()));
      if (text.size() > kMaxJwksBytes) {
        return MakeError(ErrorCode::kInvalidArgument, "JWKS file '{}' larger than {} bytes", path,
                         kMaxJwksBytes);
      }
    }
    if (file.bad()) return MakeError(ErrorCode::kUnavailable, "cannot read JWKS file '{}'", path);
    return text;
  };
}

JwksCache::JwksCache(Fetch fetch, const Clock& clock, std::chrono::seconds cooldown)
    : fetch_(std::move(fetch)), clock_(clock), cooldown_(cooldown) {}

Status JwksCache::Refresh() {
  std::lock_guard lock(refresh_mutex_);
  return RefreshLocked();
}

Status JwksCache::RefreshLocked() {
  last_attempt_ = clock_.Now();
  fetch_count_.fetch_add(1);
  Result<std::string> text = MakeError(ErrorCode::kUnavailable, "JWKS fetch failed");
  try {
    text = fetch_();
  } catch (...) {
    // The fetch function is caller code; its exceptions stop here.
    text = MakeError(ErrorCode::kUnavailable, "JWKS fetch failed");
  }
  Result<JwksSnapshot> parsed =
      text ? ParseJwks(*text) : Result<JwksSnapshot>(std::unexpected(text.error()));
  if (!parsed) {
    // Tokens signed with keys of the failed document are refused; the log says why.
    log::Warn("JWKS refresh failed; keeping the previous keys",
              {{"error", parsed.error().message}});
    return std::unexpected(parsed.error());
  }
  snapshot_.store(std::make_shared<const JwksSnapshot>(std::move(*parsed)));
  return Ok();
}

Result<std::shared_ptr<const Jwk>> JwksCache::Lookup(std::string_view kid) const {
  std::shared_ptr<const JwksSnapshot> snapshot = snapshot_.load();
  if (snapshot != nullptr) {
    if (auto it = snapshot->keys.find(kid); it != snapshot->keys.end()) return it->second;
    if (auto it = snapshot->unusable.find(kid); it != snapshot->unusable.end()) {
      return MakeError(ErrorCode::kFailedPrecondition, "key not usable: {}", it->second);
    }
  }
  return MakeError(ErrorCode::kNotFound, "unknown key id");
}

Result<std::shared_ptr<const Jwk>> JwksCache::Find(std::string_view kid) {
  auto found = Lookup(kid);
  if (found || found.error().code != ErrorCode::kNotFound) return found;
  std::lock_guard lock(refresh_mutex_);
  // Another caller may have refreshed while this one waited for the lock.
  found = Lookup(kid);
  if (found || found.error().code != ErrorCode::kNotFound) return found;
  if (last_attempt_.has_value()) {
    auto elapsed = clock_.Now() - *last_attempt_;
    // A clock that stepped back by more than the cooldown does not freeze refreshes.
    if (elapsed < cooldown_ && elapsed > -cooldown_) return found;
  }
  if (auto refreshed = RefreshLocked(); !refreshed) {
    // UNAVAILABLE whatever the cause, so that a missing JWKS file is not read as a missing key.
    return MakeError(ErrorCode::kUnavailable, "JWKS refresh failed: {}", refreshed.error().message);
  }
  return Lookup(kid);
}

}  // namespace falaj::security
