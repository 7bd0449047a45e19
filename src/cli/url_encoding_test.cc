#include "cli/url_encoding.h"

#include <gtest/gtest.h>

namespace falaj::cli {
namespace {

TEST(UrlEncodingTest, PathSegmentKeepsSubjectsReadable) {
  EXPECT_EQ(EncodePathSegment("group:ml-team"), "group:ml-team");
  EXPECT_EQ(EncodePathSegment("user:ana@example.com"), "user:ana@example.com");
  EXPECT_EQ(EncodePathSegment("a.b_c~d-0"), "a.b_c~d-0");
}

TEST(UrlEncodingTest, PathSegmentEscapesEverythingThatCouldSplitOrEndIt) {
  EXPECT_EQ(EncodePathSegment("a/b"), "a%2Fb");
  EXPECT_EQ(EncodePathSegment("a?b#c"), "a%3Fb%23c");
  EXPECT_EQ(EncodePathSegment("100%"), "100%25");
  EXPECT_EQ(EncodePathSegment("a b+c"), "a%20b%2Bc");
  EXPECT_EQ(EncodePathSegment("\xC3\xA9"), "%C3%A9");
  EXPECT_EQ(EncodePathSegment(".."), "%2E%2E");
  EXPECT_EQ(EncodePathSegment("."), "%2E");
  EXPECT_EQ(EncodePathSegment("..a"), "..a");
  EXPECT_EQ(EncodePathSegment(""), "");
}

TEST(UrlEncodingTest, QueryComponentEscapesColonAndPlus) {
  EXPECT_EQ(EncodeQueryComponent("key:abc"), "key%3Aabc");
  EXPECT_EQ(EncodeQueryComponent("a+b c&d=e"), "a%2Bb%20c%26d%3De");
}

TEST(UrlEncodingTest, ApiPathEncodesEverySegment) {
  EXPECT_EQ(ApiPath({"projects", "p1", "members", "group:a/b"}),
            "/api/v1/projects/p1/members/group:a%2Fb");
  EXPECT_EQ(ApiPath({"projects"}), "/api/v1/projects");
}

TEST(UrlEncodingTest, QueryStringSkipsUnsetParameters) {
  EXPECT_EQ(QueryString({}), "");
  EXPECT_EQ(QueryString({{"a", std::nullopt}}), "");
  EXPECT_EQ(QueryString({{"principal", "key:1"}, {"limit", std::nullopt}, {"to_ms", "5"}}),
            "?principal=key%3A1&to_ms=5");
  EXPECT_EQ(QueryString({{"resource_prefix", ""}}), "?resource_prefix=");
}

}  // namespace
}  // namespace falaj::cli
