#include "common/json_fields.h"

#include <gtest/gtest.h>

namespace falaj::json {
namespace {

TEST(JsonFieldsTest, ParseObjectRejectsMalformedAndNonObjects) {
  EXPECT_TRUE(ParseObject(R"({"a": 1})"));
  for (const char* body : {"", "{", "{\"a\":}", "[1]", "\"x\"", "3", "null", "{\"a\":1}x"}) {
    auto parsed = ParseObject(body);
    ASSERT_FALSE(parsed) << body;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument) << body;
  }
  EXPECT_NE(ParseObject("[1]").error().message.find("must be a JSON object"), std::string::npos);
  EXPECT_NE(ParseObject("{\"a\":").error().message.find("not valid JSON"), std::string::npos);
}

TEST(JsonFieldsTest, TypedFieldsNameTheField) {
  auto object = *ParseObject(R"({"name": 5, "labels": {"k": 1}, "ok": "v", "m": {"a": "b"}})");
  auto name = RequiredString(object, "name");
  ASSERT_FALSE(name);
  EXPECT_EQ(name.error().message, "field 'name' must be a string, not number");
  auto missing = RequiredString(object, "region");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message, "field 'region' is required");
  EXPECT_EQ(**OptionalString(object, "ok"), "v");
  EXPECT_FALSE(OptionalString(object, "absent")->has_value());
  auto labels = OptionalStringMap(object, "labels");
  ASSERT_FALSE(labels);
  EXPECT_EQ(labels.error().message, "field 'labels.k' must be a string, not number");
  EXPECT_EQ((**OptionalStringMap(object, "m")).at("a"), "b");
}

TEST(JsonFieldsTest, RejectUnknownFields) {
  auto object = *ParseObject(R"({"name": "a", "nmae": "b"})");
  auto status = RejectUnknownFields(object, {"name"});
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "unknown field 'nmae'");
  EXPECT_TRUE(RejectUnknownFields(object, {"name", "nmae"}));
}

TEST(JsonFieldsStringListTest, AbsentIsEmptyAndEveryItemMustBeAString) {
  auto object = nlohmann::json::parse(R"({"a": ["x", "y"], "b": null, "c": ["x", 1], "d": "x"})");
  EXPECT_EQ(*StringList(object, "a"), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(StringList(object, "b")->empty());
  EXPECT_TRUE(StringList(object, "missing")->empty());
  EXPECT_EQ(StringList(object, "c").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(StringList(object, "d").error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace falaj::json
