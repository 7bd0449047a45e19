#include "common/error.h"

#include <gtest/gtest.h>

#include "common/result.h"

namespace falaj {
namespace {

TEST(ErrorTest, EveryCodeHasANameAndStatus) {
  struct Expected {
    ErrorCode code;
    std::string_view name;
    int http;
  };
  const Expected table[] = {
      {ErrorCode::kInvalidArgument, "INVALID_ARGUMENT", 400},
      {ErrorCode::kNotFound, "NOT_FOUND", 404},
      {ErrorCode::kAlreadyExists, "ALREADY_EXISTS", 409},
      {ErrorCode::kFailedPrecondition, "FAILED_PRECONDITION", 409},
      {ErrorCode::kUnauthenticated, "UNAUTHENTICATED", 401},
      {ErrorCode::kPermissionDenied, "PERMISSION_DENIED", 403},
      {ErrorCode::kResourceExhausted, "RESOURCE_EXHAUSTED", 429},
      {ErrorCode::kPayloadTooLarge, "PAYLOAD_TOO_LARGE", 413},
      {ErrorCode::kMethodNotAllowed, "METHOD_NOT_ALLOWED", 405},
      {ErrorCode::kUnavailable, "UNAVAILABLE", 503},
      {ErrorCode::kDeadlineExceeded, "DEADLINE_EXCEEDED", 504},
      {ErrorCode::kCancelled, "CANCELLED", 409},
      {ErrorCode::kDataLoss, "DATA_LOSS", 500},
      {ErrorCode::kUnimplemented, "UNIMPLEMENTED", 501},
      {ErrorCode::kInternal, "INTERNAL", 500},
  };
  for (const auto& row : table) {
    EXPECT_EQ(ErrorCodeName(row.code), row.name);
    EXPECT_EQ(HttpStatusFor(row.code), row.http) << row.name;
    EXPECT_GT(GrpcStatusFor(row.code), 0) << row.name;
  }
}

Result<int> Half(int value) {
  if (value % 2 != 0) return MakeError(ErrorCode::kInvalidArgument, "{} is odd", value);
  return value / 2;
}

Status HalveTwice(int value, int* out) {
  auto once = Half(value);
  FALAJ_RETURN_IF_ERROR(once);
  auto twice = Half(*once);
  FALAJ_RETURN_IF_ERROR(twice);
  *out = *twice;
  return Ok();
}

TEST(ResultTest, ReturnIfErrorPropagatesTheFirstError) {
  int out = 0;
  ASSERT_TRUE(HalveTwice(8, &out));
  EXPECT_EQ(out, 2);
  auto failed = HalveTwice(6, &out);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(failed.error().message, "3 is odd");
}

}  // namespace
}  // namespace falaj
