// libFuzzer harness for the request-body helpers in common/json_fields.h. The input is a request
// body: ParseObject must accept it or answer INVALID_ARGUMENT; a parsed object is then read with
// every typed getter, for fixed field names and for the object's own first members, and each
// answer is checked against the JSON value it came from. Nothing may throw, and the only error
// any helper may return is INVALID_ARGUMENT (a client's mistake, HTTP 400).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_fields.h"
#include "fuzz_support.h"

namespace {

using falaj::ErrorCode;
using nlohmann::json;

// Names the control-plane handlers read, plus the edge cases of an empty and a dotted name.
constexpr std::string_view kFieldNames[] = {"name",    "description", "labels", "limit",
                                            "enabled", "region",      "",       "a.b"};
constexpr size_t kMembersChecked = 8;

// The member `field` of `object`, or null when absent.
const json* Member(const json& object, std::string_view field) {
  auto found = object.find(field);
  return found == object.end() ? nullptr : &*found;
}

bool AbsentOrNull(const json* value) { return value == nullptr || value->is_null(); }

void CheckString(const json& object, std::string_view field) {
  const json* value = Member(object, field);
  auto optional = falaj::json::OptionalString(object, field);
  auto required = falaj::json::RequiredString(object, field);
  if (AbsentOrNull(value)) {
    FUZZ_REQUIRE(optional && !optional->has_value());
    FUZZ_REQUIRE(!required);
    FUZZ_REQUIRE_ERROR(required.error(), ErrorCode::kInvalidArgument);
  } else if (value->is_string()) {
    FUZZ_REQUIRE(optional && optional->has_value() && **optional == value->get<std::string>());
    FUZZ_REQUIRE(required && *required == value->get<std::string>());
  } else {
    FUZZ_REQUIRE(!optional && !required);
    FUZZ_REQUIRE_ERROR(optional.error(), ErrorCode::kInvalidArgument);
    FUZZ_REQUIRE_ERROR(required.error(), ErrorCode::kInvalidArgument);
  }
}

void CheckInt(const json& object, std::string_view field) {
  const json* value = Member(object, field);
  auto result = falaj::json::OptionalInt(object, field);
  if (!result) {
    FUZZ_REQUIRE_ERROR(result.error(), ErrorCode::kInvalidArgument);
    FUZZ_REQUIRE(!AbsentOrNull(value));
    // Refused: not an integer, or an unsigned one beyond int64_t.
    FUZZ_REQUIRE(!value->is_number_integer() ||
                 (value->is_number_unsigned() && value->get<uint64_t>() > uint64_t{INT64_MAX}));
    return;
  }
  if (!result->has_value()) {
    FUZZ_REQUIRE(AbsentOrNull(value));
    return;
  }
  FUZZ_REQUIRE(value != nullptr && value->is_number_integer());
  if (value->is_number_unsigned()) {
    FUZZ_REQUIRE(**result >= 0 && static_cast<uint64_t>(**result) == value->get<uint64_t>());
  } else {
    FUZZ_REQUIRE(**result == value->get<int64_t>());
  }
}

void CheckBool(const json& object, std::string_view field) {
  const json* value = Member(object, field);
  auto result = falaj::json::OptionalBool(object, field);
  if (!result) {
    FUZZ_REQUIRE_ERROR(result.error(), ErrorCode::kInvalidArgument);
    FUZZ_REQUIRE(!AbsentOrNull(value) && !value->is_boolean());
  } else if (!result->has_value()) {
    FUZZ_REQUIRE(AbsentOrNull(value));
  } else {
    FUZZ_REQUIRE(value != nullptr && value->is_boolean() && **result == value->get<bool>());
  }
}

void CheckStringMap(const json& object, std::string_view field) {
  const json* value = Member(object, field);
  auto result = falaj::json::OptionalStringMap(object, field);
  if (!result) {
    FUZZ_REQUIRE_ERROR(result.error(), ErrorCode::kInvalidArgument);
    FUZZ_REQUIRE(!AbsentOrNull(value));
    bool all_strings = value->is_object();
    for (const auto& [key, member] : value->items())
      all_strings = all_strings && member.is_string();
    FUZZ_REQUIRE(!all_strings);
  } else if (!result->has_value()) {
    FUZZ_REQUIRE(AbsentOrNull(value));
  } else {
    FUZZ_REQUIRE(value != nullptr && value->is_object() && (*result)->size() == value->size());
    for (const auto& [key, text] : **result) {
      FUZZ_REQUIRE(value->contains(key) && value->at(key) == text);
    }
  }
}

void CheckUnknownFields(const json& object, std::initializer_list<std::string_view> allowed) {
  bool all_known = true;
  for (const auto& [key, member] : object.items()) {
    bool known = false;
    for (auto name : allowed) known = known || key == name;
    all_known = all_known && known;
  }
  auto status = falaj::json::RejectUnknownFields(object, allowed);
  FUZZ_REQUIRE(static_cast<bool>(status) == all_known);
  if (!status) FUZZ_REQUIRE_ERROR(status.error(), ErrorCode::kInvalidArgument);
}

void CheckField(const json& object, std::string_view field) {
  CheckString(object, field);
  CheckInt(object, field);
  CheckBool(object, field);
  CheckStringMap(object, field);
}

void Run(std::string_view body) {
  auto parsed = falaj::json::ParseObject(body);
  if (!parsed) {
    FUZZ_REQUIRE_ERROR(parsed.error(), ErrorCode::kInvalidArgument);
    return;
  }
  FUZZ_REQUIRE(parsed->is_object());
  for (auto field : kFieldNames) CheckField(*parsed, field);
  std::vector<std::string> members;
  for (const auto& [key, member] : parsed->items()) {
    if (members.size() == kMembersChecked) break;
    members.push_back(key);
  }
  for (const auto& field : members) CheckField(*parsed, field);
  CheckUnknownFields(*parsed, {"name", "description", "labels"});
  CheckUnknownFields(*parsed, {});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  return falaj::fuzz::RunWithoutExceptions([&] { Run(body); });
}
