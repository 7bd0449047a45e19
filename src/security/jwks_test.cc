#include "security/jwks.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "security/jose_encoding.h"
#include "security/jwks_url.h"
#include "security/jwt_test_support.h"

namespace falaj::security {
namespace {

using nlohmann::json;
using namespace falaj::security::testing;
using namespace std::string_view_literals;

class FixedClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  }
};

std::string Jwks(const std::vector<json>& keys) { return json{{"keys", keys}}.dump(); }

TEST(Base64UrlDecodeTest, DecodesCanonicalUnpaddedInputOnly) {
  for (std::string_view bytes :
       {""sv, "f"sv, "fo"sv, "foo"sv, "foob"sv, "fooba"sv, "\xff\xfe\x00\x01"sv}) {
    auto decoded = Base64UrlDecode(Base64UrlEncode(bytes));
    ASSERT_TRUE(decoded.has_value());
    EXPECT_EQ(*decoded, bytes);
  }
  EXPECT_EQ(*Base64UrlDecode("-_8"), "\xfb\xff");
  for (std::string_view bad :
       {"Zg=="sv, "Zg="sv, "Z"sv, "Zh"sv, "Zm9+"sv, "Zm9/"sv, "Zm 9v"sv, "Zm9v\n"sv, "Zm\0v"sv}) {
    auto decoded = Base64UrlDecode(bad);
    ASSERT_FALSE(decoded.has_value()) << bad;
    EXPECT_EQ(decoded.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(ParseJsonStrictTest, RejectsDuplicatesAtAnyDepthAndDeepNesting) {
  EXPECT_TRUE(ParseJsonStrict(R"({"a":{"b":1},"c":{"b":2}})", 4).has_value());
  auto duplicate = ParseJsonStrict(R"({"a":[{"b":1,"b":2}]})", 4);
  ASSERT_FALSE(duplicate.has_value());
  EXPECT_EQ(duplicate.error().message, "duplicate JSON member name");
  EXPECT_FALSE(ParseJsonStrict(R"({"a":1,"a":1})", 4).has_value());
  auto deep = ParseJsonStrict(std::string(5000, '[') + std::string(5000, ']'), 16);
  ASSERT_FALSE(deep.has_value());
  EXPECT_EQ(deep.error().message, "JSON nested too deeply");
  EXPECT_EQ(ParseJsonStrict("{\"a\":", 4).error().message, "invalid JSON");
  EXPECT_FALSE(ParseJsonStrict("{} trailing", 4).has_value());
}

class JwksTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_key_ = GenerateRsaKey();
    ec_key_ = GenerateEcKey();
  }
  static void TearDownTestSuite() {
    rsa_key_.reset();
    ec_key_.reset();
  }
  static inline EvpPkeyPtr rsa_key_;
  static inline EvpPkeyPtr ec_key_;
};

TEST_F(JwksTest, ParsesRsaAndEcKeysAndSetsAsideUnusableOnes) {
  json enc = RsaJwk(rsa_key_.get(), "enc-1");
  enc["use"] = "enc";
  json oct = {{"kty", "oct"}, {"kid", "hmac-1"}, {"k", "c2VjcmV0"}};
  json p384 = EcJwk(ec_key_.get(), "p384");
  p384["crv"] = "P-384";
  json no_verify = EcJwk(ec_key_.get(), "sign-only");
  no_verify["key_ops"] = {"sign"};
  json unsafe_kid = RsaJwk(rsa_key_.get(), "../x");
  auto parsed = ParseJwks(Jwks({RsaJwk(rsa_key_.get(), "rsa-1"), EcJwk(ec_key_.get(), "ec-1"), enc,
                                oct, p384, no_verify, unsafe_kid}));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  ASSERT_EQ(parsed->keys.size(), 2u);
  EXPECT_EQ(parsed->keys.at("rsa-1")->type, JwkKeyType::kRsa);
  EXPECT_EQ(parsed->keys.at("rsa-1")->bits, 2048);
  EXPECT_EQ(parsed->keys.at("rsa-1")->alg, "RS256");
  EXPECT_EQ(parsed->keys.at("ec-1")->type, JwkKeyType::kEcP256);
  EXPECT_EQ(parsed->unusable.at("enc-1"), "key use is not 'sig'");
  EXPECT_EQ(parsed->unusable.at("hmac-1"), "key contains private key material");
  EXPECT_EQ(parsed->unusable.at("p384"), "unsupported EC curve");
  EXPECT_EQ(parsed->unusable.at("sign-only"), "key_ops does not include 'verify'");
  EXPECT_EQ(parsed->unusable.count("../x"), 0u);
}

TEST_F(JwksTest, RejectsWeakRsaAndInvalidEcPoints) {
  EvpPkeyPtr weak = GenerateRsaKey(1024);
  json off_curve = EcJwk(ec_key_.get(), "ec-bad");
  std::string y = *Base64UrlDecode(off_curve["y"].get<std::string>());
  y[31] = static_cast<char>(y[31] ^ 1);
  off_curve["y"] = Base64UrlEncode(y);
  auto parsed = ParseJwks(Jwks({RsaJwk(weak.get(), "rsa-weak"), off_curve}));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_TRUE(parsed->keys.empty());
  EXPECT_EQ(parsed->unusable.at("rsa-weak"), "RSA key smaller than 2048 bits");
  EXPECT_EQ(parsed->unusable.at("ec-bad"), "invalid EC public key");

  FixedClock clock;
  JwksCache cache([&]() -> Result<std::string> { return Jwks({RsaJwk(weak.get(), "rsa-weak")}); },
                  clock);
  auto found = cache.Find("rsa-weak");
  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(found.error().message.find("smaller than 2048 bits"), std::string::npos);
}

TEST_F(JwksTest, MalformedDocumentsAreInvalidArgument) {
  json missing_n = RsaJwk(rsa_key_.get(), "rsa-1");
  missing_n.erase("n");
  json short_x = EcJwk(ec_key_.get(), "ec-1");
  short_x["x"] = Base64UrlEncode("short");
  json bad_b64 = RsaJwk(rsa_key_.get(), "rsa-2");
  bad_b64["e"] = "AQ==";
  struct Case {
    std::string text;
    std::string message;
  };
  std::vector<Case> cases = {
      {"not json", "JWKS document: invalid JSON"},
      {"[]", "must be an object with a 'keys' array"},
      {R"({"keys":{}})", "must be an object with a 'keys' array"},
      {R"({"keys":[1]})", "JWKS key #0 is not an object"},
      {Jwks({missing_n}), "JWKS key 'rsa-1': member 'n' missing"},
      {Jwks({short_x}), "P-256 coordinates must be 32 bytes"},
      {Jwks({bad_b64}), "JWKS key 'rsa-2': member 'e' is not base64url"},
      {Jwks({RsaJwk(rsa_key_.get(), "k"), EcJwk(ec_key_.get(), "k")}), "repeats kid 'k'"},
      {std::string(kMaxJwksBytes + 1, ' '), "larger than"},
  };
  for (const Case& test : cases) {
    auto parsed = ParseJwks(test.text);
    ASSERT_FALSE(parsed.has_value()) << test.message;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find(test.message), std::string::npos)
        << parsed.error().message;
  }
}

TEST_F(JwksTest, FailedRefreshKeepsPreviousKeys) {
  FixedClock clock;
  std::string document = Jwks({RsaJwk(rsa_key_.get(), "rsa-1")});
  JwksCache cache([&]() -> Result<std::string> { return document; }, clock,
                  std::chrono::seconds(0));
  ASSERT_TRUE(cache.Refresh().has_value());
  document = "{\"keys\": 42}";
  auto refreshed = cache.Refresh();
  ASSERT_FALSE(refreshed.has_value());
  EXPECT_EQ(refreshed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(cache.Find("rsa-1").has_value());
  EXPECT_EQ(cache.Find("rsa-2").error().code, ErrorCode::kUnavailable);
}

TEST_F(JwksTest, ConcurrentMissesShareOneFetch) {
  FixedClock clock;
  std::atomic<int> fetches{0};
  std::string document = Jwks({EcJwk(ec_key_.get(), "ec-1")});
  JwksCache cache(
      [&]() -> Result<std::string> {
        ++fetches;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return document;
      },
      clock);
  std::atomic<int> found{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      if (cache.Find(i % 2 == 0 ? "ec-1" : "ec-9").has_value()) ++found;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(fetches, 1);
  EXPECT_EQ(found, 8);
  EXPECT_EQ(cache.fetch_count(), 1u);
}

TEST_F(JwksTest, FileFetchReportsMissingFile) {
  auto result = JwksFromFile("/nonexistent/jwks.json")();
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, ErrorCode::kNotFound);
}

TEST(JwksFromUrlTest, RefusesUnsafeOrMalformedLocations) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"http://idp.example/jwks", "must use https://"},
      {"http://10.0.0.1/jwks", "must use https://"},
      {"ftp://localhost/jwks", "must start with https://"},
      {"https:///jwks", "no valid host"},
      {"https://idp.example:443x/jwks", "no valid host"},
      {"https://user@idp.example/jwks", "user information"},
      {"https://idp.example/jwks#k", "fragment"},
  };
  for (const auto& [uri, needle] : cases) {
    auto fetch = JwksFromUrl({std::string(uri), "", std::chrono::seconds(1)});
    ASSERT_FALSE(fetch.has_value()) << uri;
    EXPECT_EQ(fetch.error().code, ErrorCode::kInvalidArgument) << uri;
    EXPECT_NE(fetch.error().message.find(needle), std::string::npos) << fetch.error().message;
  }
  EXPECT_FALSE(JwksFromUrl({"https://idp.example/jwks", "/nonexistent/ca.pem"}).has_value());
  EXPECT_TRUE(JwksFromUrl({"http://127.0.0.1:1/jwks"}).has_value());
  EXPECT_TRUE(JwksFromUrl({"http://[::1]:1/jwks"}).has_value());
}

TEST(JwksFromUrlTest, AnUnreachableEndpointIsUnavailableNamingIt) {
  // Port 1 on loopback: nothing listens, so the connection is refused at once.
  auto fetch = JwksFromUrl({"http://127.0.0.1:1/jwks", "", std::chrono::seconds(5)});
  ASSERT_TRUE(fetch.has_value());
  auto text = (*fetch)();
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(text.error().message.find("http://127.0.0.1:1/jwks"), std::string::npos);
}

}  // namespace
}  // namespace falaj::security
