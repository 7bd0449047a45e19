// Result<T>: the value-or-error type returned across module boundaries (std::expected). Helpers
// build errors with a formatted message. Stateless and thread-safe.
#pragma once

#include <fmt/format.h>

#include <expected>
#include <string>
#include <utility>

#include "common/error.h"

namespace falaj {

template <typename T>
using Result = std::expected<T, Error>;

// Result of an operation that yields nothing on success.
using Status = Result<void>;

inline std::unexpected<Error> MakeError(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

template <typename... Args>
std::unexpected<Error> MakeError(ErrorCode code, fmt::format_string<Args...> format,
                                 Args&&... args) {
  return MakeError(code, fmt::format(format, std::forward<Args>(args)...));
}

inline Status Ok() { return {}; }

}  // namespace falaj

// Propagates the error of an expression yielding Result<T>/Status out of the enclosing function.
#define FALAJ_RETURN_IF_ERROR(expr)                                             \
  do {                                                                          \
    if (auto falaj_status_ = (expr); !falaj_status_) {                          \
      return std::unexpected<::falaj::Error>(std::move(falaj_status_).error()); \
    }                                                                           \
  } while (false)

// Declares or assigns `lhs` from an expression yielding Result<T>, or propagates its error:
//   FALAJ_ASSIGN_OR_RETURN(auto project, service.Get(name));
#define FALAJ_ASSIGN_OR_RETURN(lhs, expr) \
  FALAJ_ASSIGN_OR_RETURN_IMPL(FALAJ_RESULT_CONCAT(falaj_result_, __LINE__), lhs, expr)
#define FALAJ_RESULT_CONCAT_INNER(a, b) a##b
#define FALAJ_RESULT_CONCAT(a, b) FALAJ_RESULT_CONCAT_INNER(a, b)
#define FALAJ_ASSIGN_OR_RETURN_IMPL(temporary, lhs, expr)                 \
  auto temporary = (expr);                                                \
  if (!temporary) {                                                       \
    return std::unexpected<::falaj::Error>(std::move(temporary).error()); \
  }                                                                       \
  lhs = std::move(*temporary)
