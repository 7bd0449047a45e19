// Error values that cross every module boundary, and the one table that maps them to HTTP (and,
// later, gRPC) status codes. The set of codes is closed: add one here, in ErrorCodeName and in
// the status tables, or not at all. Everything here is immutable and thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace falaj {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kFailedPrecondition,
  kUnauthenticated,
  kPermissionDenied,
  kResourceExhausted,
  kPayloadTooLarge,
  kMethodNotAllowed,
  kUnavailable,
  kDeadlineExceeded,
  kCancelled,  // the caller asked the work to stop (a cancelled job)
  kDataLoss,
  kUnimplemented,
  kInternal,
};

struct Error {
  ErrorCode code;
  std::string message;
};

// The wire name of a code, e.g. "INVALID_ARGUMENT".
std::string_view ErrorCodeName(ErrorCode code);

// The HTTP status that answers an error with this code.
int HttpStatusFor(ErrorCode code);

// The gRPC status code (grpc::StatusCode numbering) that answers an error with this code.
int GrpcStatusFor(ErrorCode code);

}  // namespace falaj
