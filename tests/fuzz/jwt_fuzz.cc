// libFuzzer harness for JwtValidator::Validate with a fixed JWKS (one RSA-2048 and one P-256 key,
// generated at start-up). The first input byte selects the mode:
//   even: the rest is a token, validated as is (segment splitting, base64url, header JSON, kid
//         lookup, signature checks);
//   odd:  the rest is "<header JSON>\n<payload JSON>", which the harness signs (bit 1 set: RS256
//         key, clear: ES256 key) so that the checks after signature verification are reached.
// Beyond crashes and sanitizer reports, it aborts when a result breaks the validator's contract.
//
// Build and run: tests/fuzz/build_and_run.sh jwt_fuzz (or `make fuzz` for every harness).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "security/jwks.h"
#include "security/jwt_test_support.h"
#include "security/jwt_validator.h"

namespace {

using falaj::ErrorCode;
using falaj::security::JwksCache;
using falaj::security::JwtValidator;
using falaj::security::OidcIssuerConfig;
namespace testing = falaj::security::testing;

constexpr int64_t kNow = 1'800'000'000;
constexpr int64_t kLeeway = 60;
constexpr char kIssuer[] = "https://idp.example.ae";

class FixedClock final : public falaj::Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(kNow));
  }
};

struct Harness {
  falaj::security::EvpPkeyPtr rsa_key = testing::GenerateRsaKey();
  falaj::security::EvpPkeyPtr ec_key = testing::GenerateEcKey();
  std::string jwks =
      nlohmann::json{
          {"keys", {testing::RsaJwk(rsa_key.get(), "rsa-1"), testing::EcJwk(ec_key.get(), "ec-1")}}}
          .dump();
  FixedClock clock;
  JwksCache cache{[this]() -> falaj::Result<std::string> { return jwks; }, clock};
  JwtValidator validator{
      OidcIssuerConfig{kIssuer, {"falaj-api"}, {"RS256", "ES256"}, kLeeway, 3600}, cache, clock};
};

Harness& GetHarness() {
  static Harness* harness = new Harness();  // never destroyed: libFuzzer exits without cleanup
  return *harness;
}

void Require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  Harness& harness = GetHarness();
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string token;
  if (data[0] % 2 == 0) {
    token = rest;
  } else {
    size_t newline = rest.find('\n');
    if (newline == std::string_view::npos) return 0;
    EVP_PKEY* key = (data[0] & 2) != 0 ? harness.rsa_key.get() : harness.ec_key.get();
    token = testing::SignedToken(rest.substr(0, newline), rest.substr(newline + 1), key);
  }
  auto result = harness.validator.Validate(token);
  if (!result) {
    Require(result.error().code == ErrorCode::kUnauthenticated);
    Require(!result.error().message.empty() && result.error().message.size() <= 200);
    return 0;
  }
  // Accepted: the contract says what must then hold.
  Require(token.size() <= falaj::security::kMaxTokenBytes);
  Require(result->issuer == kIssuer && result->claims.is_object());
  Require(result->claims.value("iss", "") == kIssuer);
  Require(!result->subject.empty());
  Require(result->expires_at + kLeeway > kNow);
  return 0;
}
