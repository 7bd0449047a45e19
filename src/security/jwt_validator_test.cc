#include "security/jwt_validator.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "security/jwt_test_support.h"

namespace falaj::security {
namespace {

using nlohmann::json;
using namespace falaj::security::testing;

constexpr int64_t kNow = 1'800'000'000;
constexpr char kIssuer[] = "https://idp.example.ae/realms/falaj";
constexpr char kAudience[] = "falaj-api";

class FakeClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(seconds_.load()));
  }
  void Advance(int64_t seconds) { seconds_ += seconds; }

 private:
  std::atomic<int64_t> seconds_{kNow};
};

class JwtValidatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_key_ = GenerateRsaKey();
    ec_key_ = GenerateEcKey();
  }
  static void TearDownTestSuite() {
    rsa_key_.reset();
    ec_key_.reset();
  }

  void SetUp() override {
    jwks_path_ = ::testing::TempDir() + "jwks_" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
                 std::to_string(getpid()) + ".json";
    WriteJwks({RsaJwk(rsa_key_.get(), "rsa-1"), EcJwk(ec_key_.get(), "ec-1")});
    auto read = JwksFromFile(jwks_path_);
    cache_ = std::make_unique<JwksCache>(
        [this, read]() {
          ++fetches_;
          return read();
        },
        clock_, std::chrono::seconds(30));
    validator_ = std::make_unique<JwtValidator>(Config(), *cache_, clock_);
  }
  void TearDown() override { std::remove(jwks_path_.c_str()); }

  static OidcIssuerConfig Config() {
    return OidcIssuerConfig{kIssuer, {"other-api", kAudience}, {"RS256", "ES256"}, 60, 3600};
  }

  void WriteJwks(const std::vector<json>& keys) {
    std::ofstream(jwks_path_, std::ios::trunc) << json{{"keys", keys}}.dump();
  }

  static json Claims() {
    return {{"iss", kIssuer},   {"aud", kAudience},  {"sub", "user-42"},
            {"iat", kNow - 10}, {"exp", kNow + 600}, {"groups", {"risk-team", "admins"}}};
  }
  static json Header(std::string_view alg, std::string_view kid) {
    return {{"alg", alg}, {"typ", "JWT"}, {"kid", kid}};
  }
  static std::string Rs256(const json& claims, const json& header = Header("RS256", "rsa-1")) {
    return SignedToken(header.dump(), claims.dump(), rsa_key_.get());
  }
  static std::string Es256(const json& claims, const json& header = Header("ES256", "ec-1")) {
    return SignedToken(header.dump(), claims.dump(), ec_key_.get());
  }

  void ExpectRejected(const std::string& token, std::string_view reason) {
    auto result = validator_->Validate(token);
    ASSERT_FALSE(result.has_value()) << "accepted; expected: " << reason;
    EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated);
    EXPECT_NE(result.error().message.find(reason), std::string::npos)
        << "got '" << result.error().message << "', expected '" << reason << "'";
    // No part of the token may leak into a message that reaches logs and clients.
    for (size_t start = 0; start + 12 <= token.size(); start += 12) {
      EXPECT_EQ(result.error().message.find(token.substr(start, 12)), std::string::npos);
    }
  }

  static inline EvpPkeyPtr rsa_key_;
  static inline EvpPkeyPtr ec_key_;
  FakeClock clock_;
  std::string jwks_path_;
  std::atomic<int> fetches_{0};
  std::unique_ptr<JwksCache> cache_;
  std::unique_ptr<JwtValidator> validator_;
};

TEST_F(JwtValidatorTest, AcceptsRs256WithRolesArray) {
  auto result = validator_->Validate(Rs256(Claims()));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->subject, "user-42");
  EXPECT_EQ(result->issuer, kIssuer);
  EXPECT_EQ(result->roles, (std::vector<std::string>{"risk-team", "admins"}));
  EXPECT_EQ(result->expires_at, kNow + 600);
  EXPECT_EQ(result->claims["sub"], "user-42");
}

TEST_F(JwtValidatorTest, AcceptsEs256WithRolesStringAndAudienceArray) {
  json claims = Claims();
  claims["groups"] = "ml-engineers";
  claims["aud"] = {"someone-else", kAudience};
  json header = Header("ES256", "ec-1");
  header["typ"] = "AT+JWT";  // RFC 9068 type, compared case-insensitively
  auto result = validator_->Validate(Es256(claims, header));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(result->roles, std::vector<std::string>{"ml-engineers"});
}

TEST_F(JwtValidatorTest, AcceptsWithinLeewayAndWithoutRolesOrTyp) {
  json claims = Claims();
  claims.erase("groups");
  claims["exp"] = kNow - 30;  // expired 30 s ago, leeway is 60 s
  claims["iat"] = kNow - 600;
  claims["nbf"] = kNow + 30;
  json header = Header("RS256", "rsa-1");
  header.erase("typ");
  auto result = validator_->Validate(Rs256(claims, header));
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_TRUE(result->roles.empty());
}

TEST_F(JwtValidatorTest, RejectsAlgNone) {
  json header = {{"alg", "none"}, {"kid", "rsa-1"}};
  ExpectRejected(SigningInput(header.dump(), Claims().dump()) + ".",
                 "algorithm 'none' not allowed");
}

TEST_F(JwtValidatorTest, RejectsAlgNoneInMixedCase) {
  json header = {{"alg", "NoNe"}, {"kid", "rsa-1"}};
  ExpectRejected(SigningInput(header.dump(), Claims().dump()) + ".",
                 "algorithm 'NoNe' not allowed");
}

TEST_F(JwtValidatorTest, RejectsHs256SignedWithRsaPublicKeyAsSecret) {
  std::string input = SigningInput(Header("HS256", "rsa-1").dump(), Claims().dump());
  std::string token =
      input + "." + Base64UrlEncode(HmacSha256(PublicKeyPem(rsa_key_.get()), input));
  ExpectRejected(token, "algorithm 'HS256' not allowed");
}

TEST_F(JwtValidatorTest, RejectsRs512WhenOnlyRs256Allowed) {
  std::string token =
      SignedToken(Header("RS512", "rsa-1").dump(), Claims().dump(), rsa_key_.get(), EVP_sha512());
  ExpectRejected(token, "algorithm 'RS512' not allowed");
}

TEST_F(JwtValidatorTest, RejectsEs256TokenNamingAnRsaKey) {
  ExpectRejected(Es256(Claims(), Header("ES256", "rsa-1")), "key type does not match algorithm");
  ExpectRejected(Rs256(Claims(), Header("RS256", "ec-1")), "key type does not match algorithm");
}

TEST_F(JwtValidatorTest, RejectsAlgorithmNotInThisValidatorsAllowList) {
  OidcIssuerConfig config = Config();
  config.algorithms = {"RS256"};
  JwtValidator rs256_only(config, *cache_, clock_);
  auto result = rs256_only.Validate(Es256(Claims()));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().message, "algorithm 'ES256' not allowed");
}

TEST_F(JwtValidatorTest, RejectsExpired) {
  json claims = Claims();
  claims["exp"] = kNow - 61;
  claims["iat"] = kNow - 600;
  ExpectRejected(Rs256(claims), "token expired");
}

TEST_F(JwtValidatorTest, RejectsNotBeforeInTheFuture) {
  json claims = Claims();
  claims["nbf"] = kNow + 120;
  ExpectRejected(Rs256(claims), "token not yet valid");
}

TEST_F(JwtValidatorTest, RejectsMissingOrInvalidTimes) {
  json claims = Claims();
  claims.erase("iat");
  ExpectRejected(Rs256(claims), "missing claim 'iat'");
  claims = Claims();
  claims.erase("exp");
  ExpectRejected(Rs256(claims), "missing claim 'exp'");
  claims = Claims();
  claims["exp"] = "tomorrow";
  ExpectRejected(Rs256(claims), "claim 'exp' is not a valid NumericDate");
  claims = Claims();
  claims["iat"] = kNow + 3600;
  ExpectRejected(Rs256(claims), "token issued in the future");
}

TEST_F(JwtValidatorTest, RejectsLifetimeTooLong) {
  json claims = Claims();
  claims["iat"] = kNow - 10;
  claims["exp"] = kNow + 3600;  // 3610 s > 3600 s
  ExpectRejected(Rs256(claims), "token lifetime exceeds maximum");
}

TEST_F(JwtValidatorTest, RejectsWrongOrMissingIssuer) {
  json claims = Claims();
  claims["iss"] = "https://evil.example.com/";
  ExpectRejected(Rs256(claims), "issuer mismatch");
  claims["iss"] = std::string(kIssuer) + "/";
  ExpectRejected(Rs256(claims), "issuer mismatch");
  claims.erase("iss");
  ExpectRejected(Rs256(claims), "missing issuer");
}

TEST_F(JwtValidatorTest, RejectsWrongOrMissingAudience) {
  json claims = Claims();
  claims["aud"] = "billing-api";
  ExpectRejected(Rs256(claims), "audience mismatch");
  claims["aud"] = {"billing-api", "reports-api"};
  ExpectRejected(Rs256(claims), "audience mismatch");
  claims["aud"] = {kAudience, 7};
  ExpectRejected(Rs256(claims), "invalid audience");
  claims.erase("aud");
  ExpectRejected(Rs256(claims), "missing audience");
}

TEST_F(JwtValidatorTest, RejectsMissingSubjectAndBadRoles) {
  json claims = Claims();
  claims["sub"] = "";
  ExpectRejected(Rs256(claims), "missing subject");
  claims.erase("sub");
  ExpectRejected(Rs256(claims), "missing subject");
  claims = Claims();
  claims["groups"] = {"admins", json::object()};
  ExpectRejected(Rs256(claims), "invalid roles claim");
}

TEST_F(JwtValidatorTest, UnknownKidRefreshesOnceThenFailsFastWithinCooldown) {
  ASSERT_TRUE(validator_->Validate(Rs256(Claims())).has_value());
  ASSERT_EQ(fetches_, 1);
  clock_.Advance(31);
  ExpectRejected(Rs256(Claims(), Header("RS256", "rsa-9")), "unknown key id");
  EXPECT_EQ(fetches_, 2);
  ExpectRejected(Rs256(Claims(), Header("RS256", "rsa-9")), "unknown key id");
  ExpectRejected(Rs256(Claims(), Header("RS256", "rsa-10")), "unknown key id");
  EXPECT_EQ(fetches_, 2);  // within the cooldown: no new fetch
  clock_.Advance(31);
  ExpectRejected(Rs256(Claims(), Header("RS256", "rsa-9")), "unknown key id");
  EXPECT_EQ(fetches_, 3);
}

TEST_F(JwtValidatorTest, RejectsHostileKidWithoutLookingItUp) {
  ExpectRejected(Rs256(Claims(), Header("RS256", "../../etc/passwd")), "invalid key id");
  ExpectRejected(Rs256(Claims(), Header("RS256", "' OR 1=1 --")), "invalid key id");
  ExpectRejected(Rs256(Claims(), Header("RS256", std::string(129, 'a'))), "invalid key id");
  json header = Header("RS256", "rsa-1");
  header.erase("kid");
  ExpectRejected(Rs256(Claims(), header), "missing key id");
  EXPECT_EQ(fetches_, 0);
}

TEST_F(JwtValidatorTest, RejectsKeyReferencingAndCriticalHeaders) {
  for (const char* member : {"jku", "x5u"}) {
    json header = Header("RS256", "rsa-1");
    header[member] = "https://evil.example.com/keys";
    ExpectRejected(Rs256(Claims(), header), std::string("header parameter '") + member);
  }
  json header = Header("RS256", "rsa-1");
  header["jwk"] = RsaJwk(rsa_key_.get(), "rsa-1");
  ExpectRejected(Rs256(Claims(), header), "header parameter 'jwk' not allowed");
  header = Header("RS256", "rsa-1");
  header["crit"] = {"exp"};
  ExpectRejected(Rs256(Claims(), header), "critical header parameters are not supported");
  header = Header("RS256", "rsa-1");
  header["typ"] = "id+jwt";
  ExpectRejected(Rs256(Claims(), header), "token type not accepted");
}

TEST_F(JwtValidatorTest, RejectsTamperedPayload) {
  std::string token = Rs256(Claims());
  json claims = Claims();
  claims["sub"] = "admin";
  std::string forged = Base64UrlEncode(claims.dump());
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);
  token.replace(first + 1, second - first - 1, forged);
  ExpectRejected(token, "invalid signature");
  std::string es = Es256(Claims());
  es[es.size() - 5] = es[es.size() - 5] == 'A' ? 'B' : 'A';
  ExpectRejected(es, "invalid signature");
}

TEST_F(JwtValidatorTest, RejectsMalformedStructure) {
  std::string token = Rs256(Claims());
  ExpectRejected(token.substr(0, token.size() - 6), "invalid signature length");
  ExpectRejected(token.substr(0, token.size() / 2), "malformed token");
  ExpectRejected(token.substr(0, token.rfind('.')), "expected three segments");
  ExpectRejected(token + ".AAAA.BBBB", "JWE");
  ExpectRejected("", "missing token");
  std::string huge = token;
  while (huge.size() < 100 * 1024) huge += "A";
  ExpectRejected(huge, "token too large");
  std::string bad = token;
  bad[token.find('.') + 3] = '*';
  ExpectRejected(bad, "invalid base64url");
  ExpectRejected(token + "=", "invalid base64url");
}

TEST_F(JwtValidatorTest, RejectsDuplicateKeys) {
  std::string payload = Claims().dump();
  payload.insert(payload.size() - 1, ",\"exp\":" + std::to_string(kNow + 999999));
  ExpectRejected(SignedToken(Header("RS256", "rsa-1").dump(), payload, rsa_key_.get()),
                 "duplicate JSON member name");
  std::string header = R"({"alg":"RS256","kid":"rsa-1","alg":"RS256"})";
  ExpectRejected(SignedToken(header, Claims().dump(), rsa_key_.get()),
                 "duplicate JSON member name");
}

TEST_F(JwtValidatorTest, RejectsNonObjectHeaderAndPayload) {
  ExpectRejected(SignedToken("[\"RS256\"]", Claims().dump(), rsa_key_.get()),
                 "token header is not a JSON object");
  ExpectRejected(SignedToken("\"RS256\"", Claims().dump(), rsa_key_.get()),
                 "token header is not a JSON object");
  ExpectRejected(SignedToken("{\"alg\":", Claims().dump(), rsa_key_.get()), "invalid JSON");
  ExpectRejected(Rs256(json::array({Claims()})), "token payload is not a JSON object");
}

TEST_F(JwtValidatorTest, RejectsEs256SignatureOfWrongLength) {
  std::string input = SigningInput(Header("ES256", "ec-1").dump(), Claims().dump());
  std::string raw = SignJws(ec_key_.get(), input, EVP_sha256());
  ExpectRejected(input + "." + Base64UrlEncode(raw.substr(0, 63)), "invalid signature length");
  ExpectRejected(input + "." + Base64UrlEncode(raw + "\x01"), "invalid signature length");
  ExpectRejected(input + "." + Base64UrlEncode(std::string(64, '\0')), "invalid signature");
}

TEST_F(JwtValidatorTest, KeyRotationPicksUpNewKidAfterRefresh) {
  ASSERT_TRUE(validator_->Validate(Rs256(Claims())).has_value());
  EvpPkeyPtr next = GenerateEcKey();
  std::string token = SignedToken(Header("ES256", "ec-2").dump(), Claims().dump(), next.get());
  WriteJwks({RsaJwk(rsa_key_.get(), "rsa-1"), EcJwk(next.get(), "ec-2")});
  ExpectRejected(token, "unknown key id");  // first refresh was just now: cooldown
  clock_.Advance(31);
  auto result = validator_->Validate(token);
  ASSERT_TRUE(result.has_value()) << result.error().message;
  EXPECT_EQ(fetches_, 2);
  // The retired key is gone after the refresh, but within the cooldown it is not re-fetched.
  ExpectRejected(Es256(Claims()), "unknown key id");
  EXPECT_EQ(fetches_, 2);
}

TEST_F(JwtValidatorTest, KeyWhoseAlgDiffersIsNotUsed) {
  json rsa = RsaJwk(rsa_key_.get(), "rsa-1");
  rsa["alg"] = "RS512";
  WriteJwks({rsa});
  ExpectRejected(Rs256(Claims()), "signing key not usable");
}

TEST_F(JwtValidatorTest, UnavailableJwksDenies) {
  std::remove(jwks_path_.c_str());
  ExpectRejected(Rs256(Claims()), "signing keys unavailable");
}

TEST_F(JwtValidatorTest, MisconfiguredValidatorDeniesEverything) {
  OidcIssuerConfig config = Config();
  config.algorithms = {"RS256", "HS256"};
  auto status = JwtValidator::CheckConfig(config);
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(status.error().message.find("'HS256' not supported"), std::string::npos);
  JwtValidator broken(config, *cache_, clock_);
  auto result = broken.Validate(Rs256(Claims()));
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kUnauthenticated);
  EXPECT_TRUE(JwtValidator::CheckConfig(Config()).has_value());
  config = Config();
  config.audiences.clear();
  EXPECT_FALSE(JwtValidator::CheckConfig(config).has_value());
  config = Config();
  config.leeway_seconds = 3600;
  EXPECT_FALSE(JwtValidator::CheckConfig(config).has_value());
}

}  // namespace
}  // namespace falaj::security
