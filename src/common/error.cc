#include "common/error.h"

namespace falaj {
namespace {

struct ErrorCodeRow {
  ErrorCode code;
  std::string_view name;
  int http_status;
  int grpc_status;
};

// The single source of truth for names and status mappings.
constexpr ErrorCodeRow kErrorTable[] = {
    {ErrorCode::kInvalidArgument, "INVALID_ARGUMENT", 400, 3},
    {ErrorCode::kNotFound, "NOT_FOUND", 404, 5},
    {ErrorCode::kAlreadyExists, "ALREADY_EXISTS", 409, 6},
    {ErrorCode::kFailedPrecondition, "FAILED_PRECONDITION", 409, 9},
    {ErrorCode::kUnauthenticated, "UNAUTHENTICATED", 401, 16},
    {ErrorCode::kPermissionDenied, "PERMISSION_DENIED", 403, 7},
    {ErrorCode::kResourceExhausted, "RESOURCE_EXHAUSTED", 429, 8},
    {ErrorCode::kPayloadTooLarge, "PAYLOAD_TOO_LARGE", 413, 8},
    {ErrorCode::kMethodNotAllowed, "METHOD_NOT_ALLOWED", 405, 12},
    {ErrorCode::kUnavailable, "UNAVAILABLE", 503, 14},
    {ErrorCode::kDeadlineExceeded, "DEADLINE_EXCEEDED", 504, 4},
    {ErrorCode::kCancelled, "CANCELLED", 409, 1},
    {ErrorCode::kDataLoss, "DATA_LOSS", 500, 15},
    {ErrorCode::kUnimplemented, "UNIMPLEMENTED", 501, 12},
    {ErrorCode::kInternal, "INTERNAL", 500, 13},
};

const ErrorCodeRow& RowFor(ErrorCode code) {
  for (const auto& row : kErrorTable) {
    if (row.code == code) return row;
  }
  return kErrorTable[std::size(kErrorTable) - 1];
}

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) { return RowFor(code).name; }
int HttpStatusFor(ErrorCode code) { return RowFor(code).http_status; }
int GrpcStatusFor(ErrorCode code) { return RowFor(code).grpc_status; }

}  // namespace falaj
